"""The Gmail connector against the Gmail double: approved, verified, once, one thread."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf

from connectors.base import Done, RetryAfter
from connectors.gmail import gmail_connector
from connectors.gmail.connector import REF_HEADER
from connectors.registry import ConnectorDeps
from services import external_refs
from services.events import Event, EventType
from tests.connectors.google_drive.support import AT, SENDER, World, world


def connector(w: World):  # type: ignore[no-untyped-def]
    return gmail_connector(ConnectorDeps(settings=w.settings, db=w.db, http=w.http, clock=w.clock))


async def keep_links(w: World, handoff_id: str, answer: Done) -> None:
    """What the runtime does with a Done's links."""
    async with w.db.sessions() as session, session.begin():
        for link in answer.links:
            await external_refs.record(
                session,
                handoff_id=handoff_id,
                system="gmail",
                kind=link.kind,
                external_id=link.external_id,
                url=link.url,
                now=AT,
                detail=dict(link.detail),
            )


async def test_approved_receipt_resend_sends_the_receipt_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("receipt_resend")
        approved = await w.approve(handoff_id, "U0ANNA")
        gmail = connector(w)
        answer = await gmail.handle(approved, w.context())
        assert isinstance(answer, Done)
        [mail] = w.double.sent()
        assert mail.user == SENDER
        assert mail.header("To") == "ap@x.example"
        assert SENDER in mail.header("From")
        assert mail.header(REF_HEADER) == "call-receipt_resend:receipt"
        [(name, pdf)] = mail.attachments()
        assert name.endswith(".pdf")
        text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
        assert "PAID" in text or "Status" in text
        assert "INTERNAL-FINDING" not in mail.body() + text
        assert "transcripts.example" not in mail.body() + text
        [link] = answer.links
        assert link.label == "email sent to ap@x.example by <@U0ANNA>"
        assert answer.context is not None
        assert "Email sent to ap@x.example by <@U0ANNA>" in answer.context["lines"][-1]
        await keep_links(w, handoff_id, answer)
        again = await gmail.handle(approved, w.context(attempt=2))
        assert isinstance(again, Done)
        assert len(w.double.sent()) == 1


async def test_gmail_5xx_after_sending_sends_no_second_email(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("receipt_resend")
        approved = await w.approve(handoff_id)
        gmail = connector(w)
        w.double.fail_next("send", 500, after_write=True)
        first = await gmail.handle(approved, w.context())
        assert isinstance(first, RetryAfter)
        assert len(w.double.sent()) == 1  # Gmail sent it; the answer was lost
        second = await gmail.handle(approved, w.context(attempt=2))
        assert isinstance(second, Done)
        assert second.links[0].external_id == w.double.sent()[0].id
        assert len(w.double.sent()) == 1


async def test_quota_error_is_retried_and_says_so(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("receipt_resend")
        approved = await w.approve(handoff_id)
        w.double.fail_next("send", 429, retry_after=42)
        answer = await connector(w).handle(approved, w.context())
        assert isinstance(answer, RetryAfter)
        assert answer.seconds == 42 and "quota exceeded" in answer.reason
        assert w.double.sent() == []


async def test_unverified_address_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("receipt_resend", verified=False)
        approved = await w.approve(handoff_id)
        answer = await connector(w).handle(approved, w.context())
        assert isinstance(answer, Done) and not answer.links
        assert answer.context is not None
        assert "ap@x.example is not verified" in answer.context["lines"][-1]
        assert w.double.calls == []  # not even a token was used on Gmail


async def test_identity_confirmed_on_approval_counts_as_verified(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice", verified=False)
        await w.approve(handoff_id, identity_confirmed=True, email_invoice=True)
        created = Event(EventType.INVOICE_CREATED, handoff_id, "plisio", AT, {}, key="ev-c")
        answer = await connector(w).handle(created, w.context())
        assert isinstance(answer, Done) and answer.links
        [mail] = w.double.sent()
        assert "https://plisio.example/invoice/abc" in mail.body()
        assert mail.attachments() == []


async def test_second_email_of_a_call_joins_the_first_ones_thread(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("collections")
        approved = await w.approve(handoff_id, email_invoice=True)
        gmail = connector(w)
        first = await gmail.handle(
            Event(EventType.INVOICE_CREATED, handoff_id, "plisio", AT, {}, key="ev-1"),
            w.context(),
        )
        assert isinstance(first, Done)
        await keep_links(w, handoff_id, first)
        # A later step of the same call (here: a receipt for the same handoff).
        receipt_step = Event(
            EventType.APPROVED, handoff_id, "U1", AT, {"approval": 1, "of": 1}, key="ev-2"
        )
        async with w.db.sessions() as session, session.begin():
            from services.db.models import HandoffRow

            row = await session.get(HandoffRow, handoff_id)
            assert row is not None
            row.workflow = "receipt_resend"
        assert approved is not None
        second = await gmail.handle(receipt_step, w.context())
        assert isinstance(second, Done)
        one, two = w.double.sent()
        assert two.thread_id == one.thread_id
        assert two.header("In-Reply-To") == one.header("Message-ID")
        assert one.header("Message-ID") in two.header("References")


async def test_sender_other_than_the_tokens_subject_is_refused_by_gmail(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        token = w.double.issue_token("someone@acme.example")
        response = await w.http.post(
            f"{w.settings.google_api_base}/gmail/v1/users/{SENDER}/messages/send",
            headers={"Authorization": f"Bearer {token}"},
            json={"raw": "eA"},
        )
        assert response.status_code == 403
        assert response.json()["error"]["status"] == "PERMISSION_DENIED"


async def test_invoice_left_unticked_in_the_approval_is_not_emailed(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice")
        await w.approve(handoff_id, email_invoice=False)
        created = Event(EventType.INVOICE_CREATED, handoff_id, "plisio", AT, {}, key="ev-n")
        answer = await connector(w).handle(created, w.context())
        assert isinstance(answer, Done) and not answer.links
        assert answer.context is not None
        assert "chose not to email it" in answer.context["lines"][-1]
        assert w.double.calls == []


async def test_invoice_ticked_in_the_approval_is_emailed_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice")
        await w.approve(handoff_id, email_invoice=True)
        created = Event(EventType.INVOICE_CREATED, handoff_id, "plisio", AT, {}, key="ev-y")
        gmail = connector(w)
        answer = await gmail.handle(created, w.context())
        assert isinstance(answer, Done)
        [mail] = w.double.sent()
        assert "https://plisio.example/invoice/abc" in mail.body()
        await keep_links(w, handoff_id, answer)
        assert isinstance(await gmail.handle(created, w.context(attempt=2)), Done)
        assert len(w.double.sent()) == 1


FOLLOW_UP = (
    "Hello Globex,\n\nA reminder of the open balance. Card 4111 1111 1111 1111 is on file.\n"
)


async def test_collections_follow_up_sends_exactly_the_approved_text_once(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("collections")
        approved = await w.approve(handoff_id, followup_email=FOLLOW_UP)
        gmail = connector(w)
        w.double.fail_next("send", 503, after_write=True)
        first = await gmail.handle(approved, w.context())
        assert isinstance(first, RetryAfter)
        second = await gmail.handle(approved, w.context(attempt=2))
        assert isinstance(second, Done)
        [mail] = w.double.sent()
        body = mail.body()
        assert body.startswith("Hello Globex,\n\nA reminder of the open balance. Card ")
        assert "4111" not in body  # suppressed again on the way out
        assert mail.header(REF_HEADER) == "call-collections:followup"
        assert mail.header("Subject").startswith("A friendly reminder from")
        assert "INTERNAL-FINDING" not in body
        assert second.context is not None
        assert "(collections follow-up)" in second.context["lines"][-1]
        await keep_links(w, handoff_id, second)
        assert isinstance(await gmail.handle(approved, w.context(attempt=3)), Done)
        assert len(w.double.sent()) == 1


async def test_collections_follow_up_to_an_unverified_address_is_not_sent(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("collections", verified=False)
        approved = await w.approve(handoff_id, followup_email=FOLLOW_UP)
        answer = await connector(w).handle(approved, w.context())
        assert isinstance(answer, Done) and not answer.links
        assert w.double.calls == []


async def test_collections_approval_without_a_chosen_follow_up_sends_nothing(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("collections")
        approved = await w.approve(handoff_id)
        assert await connector(w).handle(approved, w.context()) == Done()
        assert w.double.calls == []
