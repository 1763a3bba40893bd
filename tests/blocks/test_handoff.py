from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from blocks.handoff import handoff_message
from blocks.ids import ActionId, BlockId
from services.cards import ActionMark, ApprovalMark, HandoffCard, InvoiceInfo
from services.routing import ReviewFlag
from services.states import HandoffStatus
from tests.blocks.cards import NOW, card_from, example_card, state_card
from tests.blocks.checks import assert_golden, assert_within_limits
from tests.support.examples import example, example_names

STATES = [
    "underpaid",
    "overpaid",
    "expired",
    "payment_review",
    "reissued",
    "open",
    "two_person_open",
    "partly_approved",
    "processing",
    "action_failed",
    "approved",
    "invoiced",
    "paid",
    "declined",
    "done",
    "overdue",
    "sandbox",
    "identity_check",
]
DECISION_IDS = {
    HandoffStatus.OPEN: [
        "handoff_approve",
        "handoff_decline",
        "handoff_request_info",
        "handoff_escalate",
        "handoff_reassign",
    ],
    HandoffStatus.PARTLY_APPROVED: [
        "handoff_approve",
        "handoff_decline",
        "handoff_request_info",
        "handoff_escalate",
        "handoff_reassign",
    ],
    HandoffStatus.PROCESSING: [],
    HandoffStatus.ACTION_FAILED: [
        "handoff_retry",
        "handoff_decline",
        "handoff_escalate",
        "handoff_reassign",
    ],
    HandoffStatus.APPROVED: ["handoff_escalate", "handoff_reassign", "handoff_done"],
    HandoffStatus.INVOICED: ["handoff_escalate", "handoff_reassign"],
    HandoffStatus.PAID: [],
    HandoffStatus.DECLINED: [],
    HandoffStatus.DONE: [],
}


def _decisions(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [b for b in message["blocks"] if b.get("block_id") == BlockId.DECISIONS]
    return blocks[0]["elements"] if blocks else []


def _approve(message: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in _decisions(message) if e["action_id"] == ActionId.APPROVE)


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("name", example_names())
def test_example_golden(name: str) -> None:
    message = handoff_message(example_card(name), now=NOW)
    assert_within_limits(message)
    assert_golden(f"handoff_{name}", message)


@pytest.mark.parametrize("state", STATES)
def test_state_golden(state: str) -> None:
    card, now = state_card(state)
    message = handoff_message(card, now=now)
    assert_within_limits(message)
    assert_golden(f"handoff_state_{state}", message)


@pytest.mark.parametrize("name", example_names())
@pytest.mark.parametrize("status", list(HandoffStatus))
def test_every_example_in_every_status_is_valid_slack(name: str, status: HandoffStatus) -> None:
    message = handoff_message(example_card(name, status), now=NOW)
    assert_within_limits(message)
    for block in message["blocks"]:  # nothing we send is silently dropped by the model
        assert Block.parse(block).to_dict() == block  # type: ignore[union-attr]


@pytest.mark.parametrize("status", list(HandoffStatus))
def test_buttons_per_state(status: HandoffStatus) -> None:
    message = handoff_message(example_card("duplicate_charge_dispute", status), now=NOW)
    ids = [e["action_id"] for e in _decisions(message)]
    expected = DECISION_IDS[status]
    assert ids == ([*expected, ActionId.SNOOZE] if expected else [])
    if status in {HandoffStatus.PAID, HandoffStatus.DECLINED, HandoffStatus.DONE}:
        every_action = [
            e.get("action_id") for b in message["blocks"] for e in b.get("elements", [])
        ]
        assert not {a for a in every_action if a and not a.startswith(ActionId.OPEN_LINK)}


def test_no_snooze_without_a_deadline() -> None:
    message = handoff_message(example_card("receipt_resend"), now=NOW)
    assert [e["action_id"] for e in _decisions(message)] == DECISION_IDS[HandoffStatus.OPEN]


def test_buttons_carry_the_handoff_id() -> None:
    message = handoff_message(example_card("create_invoice"), now=NOW)
    buttons = [e for e in _decisions(message) if e["type"] == "button"]
    assert {b["value"] for b in buttons} == {"h_inv2041"}


@pytest.mark.parametrize("name", example_names())
def test_approve_promises_nothing_before_the_permission_check(name: str) -> None:
    # What approving does is said in the modal opened after the click is checked.
    card = example_card(name)
    approve = _approve(handoff_message(card, now=NOW))
    assert "confirm" not in approve
    assert approve["style"] == "primary"


def test_mark_done_asks_to_confirm() -> None:
    card = example_card("duplicate_charge_dispute", HandoffStatus.APPROVED)
    [done] = [
        e for e in _decisions(handoff_message(card, now=NOW)) if e["action_id"] == "handoff_done"
    ]
    assert done["confirm"]["title"]["text"] == "Mark this handoff done?"
    assert "closes the handoff" in done["confirm"]["text"]["text"]


def test_second_approval_button_says_so() -> None:
    card, now = state_card("partly_approved")
    assert _approve(handoff_message(card, now=now))["text"]["text"] == "Approve (2nd of 2)"
    assert (
        _approve(handoff_message(replace(card, approvals=()), now=now))["text"]["text"] == "Approve"
    )


def test_collections_never_shows_the_transcript_excerpt() -> None:
    excerpt = example("collections_promise")["transcript_excerpt"].strip(".")
    for status in HandoffStatus:
        dumped = _dump(handoff_message(example_card("collections_promise", status), now=NOW))
        assert excerpt not in dumped
        assert "From the transcript" not in dumped
    other = example("refund_with_bank_details", workflow="collections")
    assert "From the transcript" not in _dump(handoff_message(card_from(other), now=NOW))
    assert "From the transcript" in _dump(
        handoff_message(example_card("refund_with_bank_details"), now=NOW)
    )


INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<@U123>",
    "<http://evil.example|x>",
    "<!subteam^S1>",
    "<!date^1^x|y>",
]


def test_caller_text_cannot_inject_mentions_or_links() -> None:
    evil = " ".join(INJECTIONS) + " & friends"
    data = example("create_invoice", caller_request=evil, findings=evil, transcript_excerpt=evil)
    data["customer"] = {**data["customer"], "name": evil[:200]}
    data["follow_up"] = {**data["follow_up"], "next_step": evil, "finance_owner": "<!channel>"}
    data["billing"] = {**data["billing"], "refund_reason": evil}
    card = card_from(data, urgent_reasons=(evil,), urgent=True, missing_fields=(evil,))
    for state in ("declined", "action_failed"):
        marks = (
            ActionMark("declined", "U0AP1", NOW, evil),
            ActionMark("escalated", "U0AP1", NOW, evil),
        )
        status = HandoffStatus(state)
        message = handoff_message(
            replace(card, status=status, actions=marks, last_error=evil, decline_reason=evil),
            now=NOW,
        )
        # The header is plain_text, which Slack shows verbatim: no mention or link can form.
        header, *rest = message["blocks"]
        assert header["type"] == "header" and header["text"]["type"] == "plain_text"
        dumped = _dump({"text": message["text"], "blocks": rest})
        for injection in INJECTIONS:
            assert injection not in dumped
        assert "&lt;!channel&gt;" in dumped
        assert "<!subteam^S0FINANCE>" in dumped or status is HandoffStatus.DECLINED
        assert "<@U0AP1>" in dumped  # real attributions still mention


def test_urgent_card_mentions_the_group_with_reasons() -> None:
    message = handoff_message(example_card("vip_renewal_blocker"), now=NOW)
    # The header says what, for whom and how much; the status line under it says how urgent
    # and why, mentioning the finance group.
    header = message["blocks"][0]["text"]["text"]
    assert header == "🚨 VIP payment blocker · Alder Street Health · 24,000.00 GBP"
    status = message["blocks"][1]["text"]["text"].split("\n")[0]
    assert status.startswith("⏳ *Waiting for approval* from two different approvers · due <!date^")
    assert status.endswith(
        "🚨 *Urgent*: VIP customer, deadline within 24 h · cc <!subteam^S0FINANCE>"
    )
    low = handoff_message(example_card("receipt_resend"), now=NOW)
    assert low["blocks"][0]["text"]["text"].startswith("Receipt resend · ")
    assert low["blocks"][1]["text"]["text"].split("\n")[0].endswith(" · Low priority")


def test_header_falls_back_when_customer_or_amount_is_missing() -> None:
    data = example("create_invoice")
    del data["customer"]
    del data["billing"]
    message = handoff_message(card_from(data), now=NOW)
    assert message["blocks"][0]["text"]["text"] == "Create invoice"
    assert message["text"].startswith("Create invoice (normal): Customer wants")
    data = example("create_invoice")
    data["customer"] = {"account_id": "ACC-9"}
    message = handoff_message(card_from(data), now=NOW)
    assert message["blocks"][0]["text"]["text"] == "Create invoice · ACC-9 · 4,200.00 USD"


def test_overdue_only_while_open() -> None:
    card = example_card("duplicate_charge_dispute")
    assert card.deadline is not None
    later = card.deadline + timedelta(minutes=45)
    assert "Overdue by 45 min" in _dump(handoff_message(card, now=later))
    assert "Overdue by 3 days" in _dump(
        handoff_message(card, now=card.deadline + timedelta(days=3))
    )
    assert "Overdue" not in _dump(handoff_message(card, now=card.deadline - timedelta(minutes=1)))
    paid = replace(card, status=HandoffStatus.PAID)
    assert "Overdue" not in _dump(handoff_message(paid, now=later))


def test_text_fallback_reads_like_a_notification() -> None:
    data = example("duplicate_charge_dispute")
    data["customer"] = {**data["customer"], "name": "Marta Okafor"}
    data["caller_request"] = "Caller says the November charge of 240.00 USD was taken twice " * 8
    data["billing"] = {**data["billing"], "amount": "240.00"}
    text = handoff_message(card_from(data), now=NOW)["text"]
    assert text.startswith("Dispute · Marta Okafor · 240.00 USD (high): Caller says the November")
    assert text.endswith("… — owner ap-lead@acme.example")
    assert len(text) <= 300
    sandbox = handoff_message(example_card("create_invoice", sandbox=True), now=NOW)
    assert sandbox["text"].startswith("[SANDBOX] Create invoice · Harbor &amp; Finch LLC · ")


def _longest_card() -> HandoffCard:
    url = "https://app.dialnexa.example/" + "p" * 2000
    nasty = "&<>" * 333 + "x"  # every character grows when escaped
    data = example("refund_with_bank_details")
    data.update(
        caller_request=("Please refund & <confirm> " * 80)[:2000],
        findings=("Found <this> & that. " * 200)[:4000],
        transcript_excerpt=("line one & <two>\n" * 500)[:8000],
    )
    data["customer"] = {
        "name": "N&" * 100,
        "account_id": "A" * 128,
        "email": ("e" * 64) + "@" + ".".join(["d" * 60, "d" * 60, "d" * 59]) + ".example",
        "email_verified": False,
        "phone": "+" + "1" * 31,
        "tax_region": "DE-BY",
        "vip": True,
    }
    data["billing"] = {
        "invoice_number": "I" * 128,
        "payment_id": "P" * 128,
        "subscription_id": "S" * 128,
        "amount": "-999999999999.99999999",
        "currency": "USDT_SOL",  # the longest code intake accepts
        "due_date": "2026-12-01",
        "payment_status": "partially_paid",
        "refund_reason": nasty,
        "dispute_reason": nasty,
        "credit_request": nasty,
    }
    data["follow_up"] = {
        "finance_owner": "o" * 254,
        "next_step": nasty,
        "escalation_reason": nasty,
        "deadline": "2026-11-20T12:00:00Z",
    }
    data["affected_record"] = {"system": "s" * 64, "object": "o" * 64, "id": "i" * 128, "url": url}
    data["links"] = {
        k: url for k in ("recording_url", "crm_url", "support_ticket_url", "payment_platform_url")
    }
    data["links"]["transcript_url"] = "https://app.dialnexa.example/t?" + "q" * 300
    return card_from(
        data,
        urgent=True,
        urgent_reasons=tuple(nasty for _ in range(5)),
        review_flags=tuple(ReviewFlag),
        missing_fields=(
            "destination object",
            "owner",
            "status",
            "urgency",
            "next step",
            "record URL",
        ),
        redacted=("card_number", "bank_details", "tax_identifier", "private_document"),
        two_person=True,
        approvals=(ApprovalMark("U" + "9" * 20, NOW),),
        actions=(
            *(ActionMark("escalated", "U0AP1", NOW, nasty) for _ in range(30)),
            ActionMark("declined", "U0AP2", NOW, nasty),
            ActionMark("done", "U0AP3", NOW, nasty),
        ),
        decline_reason=nasty,
        last_error=nasty,
        invoice=InvoiceInfo(
            "o" * 64, "s" * 40, Decimal(1), "USD", txn_id="t" * 200, url=url, error=nasty
        ),
        sandbox=True,
    )


@pytest.mark.parametrize("status", list(HandoffStatus))
def test_longest_inputs_stay_within_limits(status: HandoffStatus) -> None:
    card = replace(_longest_card(), status=status)
    message = handoff_message(card, now=NOW)
    assert_within_limits(message)
    assert len(message["text"]) <= 300
    dumped = _dump(message)
    assert "…" in dumped
    assert "|Full details>" in dumped


@pytest.mark.parametrize("transcript_url", [None, "https://app.dialnexa.example/" + "t" * 2000])
def test_full_details_only_with_a_transcript_link_that_fits(transcript_url: str | None) -> None:
    card = _longest_card()
    assert card.handoff.links is not None
    links = card.handoff.links.model_copy(update={"transcript_url": transcript_url})
    handoff = card.handoff.model_copy(update={"links": links})
    message = handoff_message(replace(card, handoff=handoff), now=NOW)
    assert_within_limits(message)
    assert "Full details" not in _dump(message)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    request=st.text(min_size=1, max_size=2000),
    findings=st.text(max_size=4000),
    excerpt=st.text(max_size=8000),
    name=st.text(max_size=200),
    status=st.sampled_from(list(HandoffStatus)),
)
def test_random_unicode_stays_within_limits(
    request: str, findings: str, excerpt: str, name: str, status: HandoffStatus
) -> None:
    data = example(
        "create_invoice", caller_request=request, findings=findings, transcript_excerpt=excerpt
    )
    data["customer"] = {**data["customer"], "name": name}
    message = handoff_message(card_from(data, status), now=NOW)
    assert_within_limits(message)
    assert len(message["text"]) <= 300


def test_builder_is_pure() -> None:
    card = example_card("vip_renewal_blocker")
    assert handoff_message(card, now=NOW) == handoff_message(card, now=NOW)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert handoff_message(card, now=later) != handoff_message(card, now=NOW)  # overdue line


@pytest.mark.parametrize("state", ["underpaid", "expired", "payment_review"])
def test_unpaid_invoice_offers_reissue_and_mark_done_never_paid(state: str) -> None:
    card, now = state_card(state)
    message = handoff_message(card, now=now)
    ids = [e["action_id"] for e in _decisions(message)]
    assert ids[0] == ActionId.REISSUE
    assert ActionId.DONE in ids
    assert "Paid" not in _dump(message)


def test_underpaid_shows_expected_and_received() -> None:
    card, now = state_card("underpaid")
    text = _dump(handoff_message(card, now=now))
    assert "*Underpaid:* expected 4,200.00 USDT, received 3,900.50 USDT" in text
    assert "Payment status on the call" not in text  # the call's "Unpaid" is history now
    assert "*Payment status (Plisio)*\\nUnderpaid" in text


def test_paid_invoice_replaces_the_call_time_payment_status() -> None:
    card, now = state_card("paid")
    text = _dump(handoff_message(card, now=now))
    assert "Unpaid" not in text
    assert "*Payment status (Plisio)*\\nPaid" in text
    assert "✅ *Paid* 4,200.00 USD on <https://plisio.example/" in text


def test_superseded_invoice_stays_visible() -> None:
    card, now = state_card("reissued")
    text = _dump(handoff_message(card, now=now))
    assert "Replaced: <https://plisio.example/invoice/" in text and "(Expired)" in text
