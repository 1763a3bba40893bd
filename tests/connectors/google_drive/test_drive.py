"""The Drive connector against the Drive double: folders once, each PDF once, failures."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf

from connectors.base import Done, GiveUp, RetryAfter
from connectors.google_drive import drive_connector
from connectors.registry import ConnectorDeps
from services.events import Event, EventType
from tests.connectors.google_drive.support import AT, ROOT, World, world


def connector(w: World):  # type: ignore[no-untyped-def]
    return drive_connector(ConnectorDeps(settings=w.settings, db=w.db, http=w.http, clock=w.clock))


def created(handoff_id: str, key: str = "ev-created") -> Event:
    return Event(EventType.INVOICE_CREATED, handoff_id, "plisio", AT, {"txn_id": "t"}, key=key)


def pdf_text(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)


async def test_invoice_pdf_uploaded_once_into_a_customer_folder(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice")
        drive = connector(w)
        answer = await drive.handle(created(handoff_id), w.context())
        assert isinstance(answer, Done)
        folders = [f for f in w.double.folders() if f.id != ROOT]
        assert [f.name for f in folders] == ["Globex Corp (ACC-9)"]
        assert folders[0].parents == [ROOT]
        [doc] = w.double.documents()
        assert doc.parents == [folders[0].id]
        assert doc.app_properties == {"call_id": "call-create_invoice", "document": "invoice"}
        text = pdf_text(doc.content)
        assert "120.50 USD" in text
        assert "https://plisio.example/invoice/abc" in text
        assert "INTERNAL-FINDING" not in text and "transcripts.example" not in text
        [link] = answer.links
        assert link.kind == "invoice" and link.external_id == doc.id
        assert link.url and link.url.startswith("https://drive.google.com/file/d/")
        # Same event again (a redelivery): found by its appProperties, not uploaded again.
        again = await drive.handle(created(handoff_id), w.context(attempt=2))
        assert isinstance(again, Done) and again.links[0].external_id == doc.id
        assert len(w.double.documents()) == 1
        upload = [c for c in w.double.calls if c[1] == "/upload/drive/v3/files"]
        assert len(upload) == 1


async def test_folder_is_reused_for_the_receipt_and_another_handoff(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        first = await w.add_handoff("create_invoice")
        second = await w.add_handoff("receipt_resend")
        drive = connector(w)
        await drive.handle(created(first), w.context())
        paid = Event(EventType.PAID, second, "plisio", AT, {}, key="ev-paid")
        assert isinstance(await drive.handle(paid, w.context()), Done)
        assert len([f for f in w.double.folders() if f.id != ROOT]) == 1
        kinds = sorted(d.app_properties["document"] for d in w.double.documents())
        assert kinds == ["invoice", "receipt"]


async def test_credit_note_on_the_final_approval_of_a_credit_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff(
            "credit_request", invoice=False, amount="-30", credit_request="Outage credit"
        )
        approved = await w.approve(handoff_id)
        answer = await connector(w).handle(approved, w.context())
        assert isinstance(answer, Done)
        [doc] = w.double.documents()
        assert doc.app_properties["document"] == "credit_note"
        assert "Outage credit" in pdf_text(doc.content)


async def test_upload_5xx_after_the_file_was_stored_makes_no_second_file(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice")
        drive = connector(w)
        w.double.fail_next("upload", 503, after_write=True)
        first = await drive.handle(created(handoff_id), w.context())
        assert isinstance(first, RetryAfter) and "503" in first.reason
        assert len(w.double.documents()) == 1  # Drive stored it; the answer was lost
        second = await drive.handle(created(handoff_id), w.context(attempt=2))
        assert isinstance(second, Done)
        assert len(w.double.documents()) == 1


async def test_quota_error_is_retried_with_googles_retry_after(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        handoff_id = await w.add_handoff("create_invoice")
        w.double.fail_next("list", 429, retry_after=17)
        answer = await connector(w).handle(created(handoff_id), w.context())
        assert isinstance(answer, RetryAfter)
        assert answer.seconds == 17 and "quota exceeded" in answer.reason
        assert w.double.documents() == []


async def test_a_refused_folder_is_a_give_up_that_says_why(tmp_path: Path) -> None:
    async with world(tmp_path, google_drive_folder_id="missing-folder") as w:
        handoff_id = await w.add_handoff("create_invoice")
        answer = await connector(w).handle(created(handoff_id), w.context())
        assert isinstance(answer, GiveUp)
        assert answer.reason.startswith("Google Drive refused the folder: 404")


async def test_wrong_token_gets_googles_401(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        response = await w.http.get(
            f"{w.settings.google_api_base}/drive/v3/files", headers={"Authorization": "Bearer x"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"
