"""services.payments.assess: paid or not, decided from the amounts (table-driven, pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.plisio import parse_callback
from services.payments import PaymentState, assess, status_rank

TOTAL, FIAT = Decimal("4200.00"), "USD"


def callback(status: str, **fields: str) -> dict[str, str]:
    return {
        "txn_id": "t",
        "status": status,
        "order_number": "o",
        "currency": "USDT",
        "source_amount": "4200.00",
        "source_currency": "USD",
        **fields,
    }


@pytest.mark.parametrize(
    ("status", "fields", "state", "expected", "received"),
    [
        # invoice_total_sum (what must arrive) against amount (what arrived)
        ("completed", {"amount": "4200", "invoice_total_sum": "4200"}, "paid", "4200", "4200"),
        (
            "completed",
            {"amount": "4199.99", "invoice_total_sum": "4200"},
            "underpaid",
            "4200",
            "4199.99",
        ),
        ("mismatch", {"amount": "3900", "invoice_total_sum": "4200"}, "underpaid", "4200", "3900"),
        ("mismatch", {"amount": "4300", "invoice_total_sum": "4200"}, "overpaid", "4200", "4300"),
        ("mismatch", {"amount": "4200", "invoice_total_sum": "4200"}, "paid", "4200", "4200"),
        # received_amount present: amount is then the invoice's own crypto amount
        ("mismatch", {"amount": "4200", "received_amount": "10"}, "underpaid", "4200", "10"),
        # no crypto total: the received amount at Plisio's rate against the fiat total
        (
            "completed",
            {"amount": "0.069", "source_rate": "60000"},
            "underpaid",
            "4200.00",
            "4140.00",
        ),
        (
            "mismatch",
            {"amount": "0.0701", "source_rate": "60000"},
            "overpaid",
            "4200.00",
            "4206.00",
        ),
        # nothing to compare: Plisio's word for completed, review for mismatch
        ("completed", {"amount": "4200"}, "paid", "4200.00", "4200"),
        ("mismatch", {"amount": "4200"}, "review", "4200.00", "4200"),
        ("new", {}, "awaiting", None, None),
        ("pending internal", {"amount": "1"}, "awaiting", None, "1"),
        ("expired", {"amount": "100"}, "expired", None, "100"),
        ("cancelled duplicate", {}, "cancelled", None, None),
        ("error", {}, "error", None, None),
        ("refunded?", {}, "other", None, None),
    ],
)
def test_assess(
    status: str,
    fields: dict[str, str],
    state: str,
    expected: str | None,
    received: str | None,
) -> None:
    judged = assess(parse_callback(callback(status, **fields)), TOTAL, FIAT)
    assert judged.state == PaymentState(state)
    assert judged.expected == (Decimal(expected) if expected else None)
    assert judged.received == (Decimal(received) if received else None)
    assert judged.paid is (state in {"paid", "overpaid"})


@pytest.mark.parametrize(
    "fields",
    [
        {"source_currency": "EUR"},
        {"source_currency": "eur"},
        {"source_amount": "4200.01"},
        {"source_amount": "42"},
    ],
)
def test_a_callback_unlike_the_invoice_is_never_paid(fields: dict[str, str]) -> None:
    full = {"amount": "5000", "invoice_total_sum": "4200", **fields}
    judged = assess(parse_callback(callback("completed", **full)), TOTAL, FIAT)
    assert judged.state is PaymentState.REVIEW
    assert judged.paid is False
    assert judged.reason


def test_the_same_total_written_differently_is_the_same_total() -> None:
    judged = assess(
        parse_callback(callback("completed", source_amount="4200.000000", amount="4200")),
        TOTAL,
        FIAT,
    )
    assert judged.state is PaymentState.PAID


def test_status_order() -> None:
    assert status_rank("creating") < status_rank("new") < status_rank("pending")
    assert status_rank("pending") == status_rank("pending internal") == status_rank("whatever")
    assert status_rank("pending") < status_rank("expired") == status_rank("completed")
    assert status_rank("Mismatch ") == status_rank("cancelled duplicate") == 2
