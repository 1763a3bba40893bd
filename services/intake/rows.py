"""The rows one stored handoff is: its ``handoffs`` row, its Slack post and its RECEIVED event."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.digest import post_at
from services.events import Event, EventType, OutboxKind
from services.outbox import Outbox
from services.redaction import RedactedHandoff
from services.refunds.rows import refund_values
from services.routing import RouteDecision, RoutingConfig
from services.states import HandoffStatus

__all__ = [
    "PreparedHandoff",
    "first_reminder_at",
    "handoff_values",
    "post_outbox_key",
    "prepare",
]

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class PreparedHandoff:
    """A handoff's rows, ready for a batch insert."""

    row: dict[str, Any]  # the ``handoffs`` row
    outbox: dict[str, Any]  # its POST_HANDOFF work
    event: Event  # its RECEIVED event
    refund: dict[str, Any] | None = None  # its ``refunds`` row (a refund with an amount)


def prepare(
    cleaned: RedactedHandoff,
    decision: RouteDecision,
    routing: RoutingConfig,
    now: datetime,
    *,
    actor: str,
    kind: str,
    requested_by: str | None,
) -> PreparedHandoff:
    """The rows of one cleaned and routed handoff (nothing is written)."""
    row = handoff_values(
        cleaned,
        decision,
        now,
        routing.reminders.heads_up_before_minutes,
        kind=kind,
        requested_by=requested_by,
    )
    outbox = Outbox.values(
        kind=OutboxKind.POST_HANDOFF,
        key=post_outbox_key(row["call_id"]),
        handoff_id=row["id"],
        now=now,
        # Non-urgent handoffs wait for the digest when [digest] is enabled.
        available_at=post_at(
            urgent=row["urgent"], kind=kind, deadline=row["deadline"], routing=routing, now=now
        ),
    )
    event = Event(
        EventType.RECEIVED,
        row["id"],
        actor,
        now,
        {
            "workflow": row["workflow"],
            "urgency": row["urgency"],
            "channel": row["channel"],
            "redacted": row["redacted"],
            "hidden_links": list(cleaned.hidden_links),
            "dropped_fields": list(cleaned.dropped),
            "needs_mapping": row["needs_mapping"],
        },
    )
    refund = refund_values(
        cleaned.handoff, handoff_id=row["id"], customer_email=row["customer_email"], now=now
    )
    return PreparedHandoff(row, outbox, event, refund)


def post_outbox_key(call_id: str) -> str:
    """The outbox de-duplication key of a handoff's Slack post."""
    return f"post_handoff:{call_id}"


def first_reminder_at(decision_deadline: datetime | None, heads_up_minutes: int) -> datetime | None:
    """When the reminder loop should first look at a handoff."""
    if decision_deadline is None:
        return None
    try:
        return decision_deadline - timedelta(minutes=heads_up_minutes)
    except OverflowError:  # a deadline in the first minutes of year 1: look at it at once
        return decision_deadline


def handoff_values(
    cleaned: RedactedHandoff,
    decision: RouteDecision,
    now: datetime,
    heads_up_minutes: int,
    *,
    kind: str,
    requested_by: str | None,
) -> dict[str, Any]:
    """The ``handoffs`` row of a cleaned handoff, column by column."""
    handoff = cleaned.handoff
    customer = handoff.customer
    billing = handoff.billing
    follow_up = handoff.follow_up
    owner = follow_up.finance_owner if follow_up else None
    deadline = follow_up.deadline if follow_up else None
    payload = handoff.model_dump(mode="json", exclude_none=True)
    payload["workflow"] = handoff.effective_workflow.value
    return {
        "id": uuid.uuid4().hex,
        "call_id": handoff.call_id,
        "kind": kind,
        "workflow": handoff.effective_workflow.value,
        "urgency": decision.urgency.value,
        "urgent": decision.urgent,
        "status": HandoffStatus.OPEN.value,
        "channel": decision.channel,
        "message_ts": None,
        "owner": owner,
        "owner_slack_id": owner if owner and SLACK_USER_ID.match(owner) else None,
        "requested_by": requested_by,
        "deadline": deadline,
        "amount": billing.amount_decimal if billing else None,
        "currency": billing.currency if billing else None,
        "customer_email": str(customer.email).lower() if customer and customer.email else None,
        "email_verified": bool(customer and customer.email_verified),
        "two_person": decision.two_person,
        "needs_mapping": decision.needs_mapping,
        "review_flags": [flag.value for flag in decision.review_flags],
        "missing_fields": list(decision.missing_fields),
        "redacted": sorted(c.value for c in cleaned.found),
        "payload": payload,
        "resolution": {"urgent_reasons": list(decision.urgent_reasons)},
        "occurred_at": handoff.occurred_at,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "next_reminder_at": first_reminder_at(deadline, heads_up_minutes),
        "reminder_step": 0,
        "snoozed_until": None,
        "team_id": None,  # the Slack workspace, when several are installed (set by the intake)
    }
