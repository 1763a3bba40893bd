"""Handoff intake: check a DialNexa delivery, clean it, route it and store it exactly once.

- ``parse``: body limits, the signature, JSON depth and the schema's field-by-field problems;
- ``rows``: the rows one handoff is (its ``handoffs`` row, its Slack post, its RECEIVED event);
- ``store``: the group-commit writer that stores many handoffs per transaction.
"""

from __future__ import annotations

from services.intake.parse import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    FieldProblem,
    IntakeError,
    parse_delivery,
)
from services.intake.rows import first_reminder_at, post_outbox_key
from services.intake.store import MAX_BATCH, HandoffIntake, IntakeResult

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "FieldProblem",
    "HandoffIntake",
    "IntakeError",
    "IntakeResult",
    "first_reminder_at",
    "parse_delivery",
    "post_outbox_key",
]
