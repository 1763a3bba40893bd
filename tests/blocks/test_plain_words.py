"""Messages in plain words: human payment statuses, ids only in the context line, request wording."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from blocks.handoff import handoff_message
from services.cards import HandoffCard
from services.states import HandoffStatus
from tests.blocks.cards import NOW, card_from, example_card, state_card
from tests.blocks.checks import assert_golden, assert_within_limits
from tests.support.examples import example, example_names

TXN = "6431f0a5e7c3b2d19a8f0e41"


def _non_context(message: dict[str, Any]) -> str:
    return json.dumps([b for b in message["blocks"] if b["type"] != "context"], ensure_ascii=False)


def _invoiced(status: str, state: str | None, *, paid: bool = False) -> HandoffCard:
    card, _ = state_card("invoiced")
    assert card.invoice is not None
    invoice = replace(card.invoice, status=status, payment_state=state, paid=paid)
    return replace(card, invoice=invoice, status=HandoffStatus.PAID if paid else card.status)


@pytest.mark.parametrize(
    ("status", "state", "paid", "word"),
    [
        ("new", None, False, "Awaiting payment"),
        ("pending", "awaiting", False, "Awaiting payment"),
        ("completed", "paid", True, "Paid"),
        ("mismatch", "overpaid", True, "Overpaid — check"),
        ("mismatch", "underpaid", False, "Underpaid"),
        ("mismatch", "review", False, "Held for review"),
        ("expired", "expired", False, "Expired"),
        ("cancelled", "cancelled", False, "Cancelled"),
        ("error", "error", False, "Plisio error"),
        ("something_new", "other", False, "Unrecognised payment status"),
    ],
)
def test_payment_status_in_plain_words_never_plisio_codes(
    status: str, state: str | None, paid: bool, word: str
) -> None:
    message = handoff_message(_invoiced(status, state, paid=paid), now=NOW)
    shown = _non_context(message)
    assert word in shown
    assert "Plisio status" not in shown
    if status not in word.lower():
        assert f" {status}" not in shown.lower().replace(word.lower(), "")


def test_invoice_ids_only_in_the_context_line() -> None:
    for state in ("invoiced", "paid", "underpaid", "expired", "reissued"):
        card, now = state_card(state)
        message = handoff_message(card, now=now)
        assert TXN not in _non_context(message).replace(f"/invoice/{TXN}", "")
        if card.invoice and card.invoice.txn_id:
            assert f"Plisio invoice `{TXN}`" in message["blocks"][-1]["elements"][-1]["text"]


def test_call_time_is_labelled_and_received_shows_when_known() -> None:
    card = example_card("create_invoice")
    ids = handoff_message(card, now=NOW)["blocks"][-1]["elements"][0]["text"]
    assert "call at <!date^" in ids and "received" not in ids
    received = replace(card, received_at=card.handoff.occurred_at + timedelta(seconds=40))
    ids = handoff_message(received, now=NOW)["blocks"][-1]["elements"][0]["text"]
    assert "call at <!date^1795680840^" in ids
    assert "received <!date^1795680880^" in ids


@pytest.mark.parametrize("name", example_names())
def test_no_needs_mapping_banner_on_messages(name: str) -> None:
    card = example_card(name, missing_fields=("destination object", "owner", "status"))
    assert "Needs mapping" not in json.dumps(handoff_message(card, now=NOW))


def test_a_missing_owner_is_said_plainly() -> None:
    data = example("create_invoice")
    data["follow_up"] = {k: v for k, v in data["follow_up"].items() if k != "finance_owner"}
    card = card_from(data)
    assert card.owner is None
    shown = json.dumps(handoff_message(card, now=NOW), ensure_ascii=False)
    assert "👤 *No owner yet*" in shown
    closed = json.dumps(handoff_message(replace(card, status=HandoffStatus.DONE), now=NOW))
    assert "No owner yet" not in closed
    owned = json.dumps(handoff_message(example_card("create_invoice"), now=NOW))
    assert "No owner yet" not in owned


def test_a_record_without_id_or_url_is_left_out() -> None:
    data = example("create_invoice")
    data["affected_record"] = {"system": "plisio", "object": "invoice"}
    assert "Affected record" not in json.dumps(handoff_message(card_from(data), now=NOW))
    data["affected_record"] = {"system": "plisio", "object": "invoice", "id": "INV-1"}
    assert "Affected record" in json.dumps(handoff_message(card_from(data), now=NOW))


def _request_card(status: HandoffStatus = HandoffStatus.OPEN) -> HandoffCard:
    from services.requests import build_request_handoff, validate_request

    checked = validate_request(
        email="dana@example.com",
        amount="1,250.00",
        currency="EUR",
        description="Consulting, November",
        call_id=None,
        currencies=("EUR", "USD"),
    )
    assert not isinstance(checked, dict)
    handoff = build_request_handoff(checked, requester="U0BILLINGOPS", now=NOW)
    card = card_from(handoff.model_dump(mode="json"), status)
    return replace(
        card,
        kind="request",
        requested_by="U0BILLINGOPS",
        owner_slack_id="U0BILLINGOPS",
        handoff_id="h_req1",
        call_id="slack_req:01JREQUEST0000000000000000",  # new_request_id() is random
    )


@pytest.mark.parametrize("status", list(HandoffStatus))
def test_a_slack_request_is_not_worded_as_a_call(status: HandoffStatus) -> None:
    message = handoff_message(_request_card(status), now=NOW)
    assert_within_limits(message)
    shown = json.dumps(message, ensure_ascii=False)
    for call_words in ("What the caller asked", "What DialNexa learned", "on the call"):
        assert call_words not in shown
    assert "✓ verified" not in shown  # a colleague typed the email; nobody verified it
    assert "typed by <@U0BILLINGOPS>" in shown
    assert "*What was requested*\\nConsulting, November" in shown
    assert (
        message["blocks"][0]["text"]["text"] == "Create invoice · dana@example.com · 1,250.00 EUR"
    )
    assert (
        "Requested by <@U0BILLINGOPS> in Slack <!date^"
        in message["blocks"][-1]["elements"][0]["text"]
    )


def test_request_golden() -> None:
    message = handoff_message(_request_card(), now=NOW)
    assert_golden("handoff_request", message)


def test_invoice_lookup_lists_statuses_in_words() -> None:
    from blocks.invoices import invoice_list_message
    from connectors.plisio.models import Operation

    def op(status: str) -> Operation:
        return Operation.model_validate(
            {"id": f"{status[:4]}f0a5e7c3", "status": status, "amount": "10", "currency": "USDT"}
        )

    statuses = ["completed", "new", "mismatch", "expired", "on hold"]
    message = invoice_list_message(email="a@b.example", invoices=[op(s) for s in statuses])
    shown = json.dumps(message, ensure_ascii=False)
    for word in (
        "*Paid*",
        "*Awaiting payment*",
        "*Amount differs from the invoice — check it*",
        "*Expired*",
        "*Unrecognised status (on hold)*",
    ):
        assert word in shown
    for code in ("*completed*", "*new*", "*mismatch*", "*expired*"):
        assert code not in shown
