"""Refunds: the policy that may automate them, and the ledger that executes each exactly once."""

from services.refunds.ledger import (
    COUNTED,
    FINAL,
    Refund,
    RefundLedger,
    RefundStatus,
    RefundSystem,
    refund_key,
)

__all__ = [
    "COUNTED",
    "FINAL",
    "Refund",
    "RefundLedger",
    "RefundStatus",
    "RefundSystem",
    "refund_key",
]
