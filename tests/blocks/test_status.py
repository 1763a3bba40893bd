"""/handoff's answer: the state in plain words and the audit trail as sentences."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from blocks.status import handoff_status_message
from blocks.trail import event_sentence
from services.db.models import AuditEntry
from services.events import EventType
from tests.blocks.cards import NOW, state_card
from tests.blocks.checks import assert_golden, assert_within_limits


def _entry(minutes: int, actor: str, action: EventType, **detail: Any) -> AuditEntry:
    return AuditEntry(
        at=NOW + timedelta(minutes=minutes), actor=actor, action=action.value, detail=detail
    )


TRAIL = [
    _entry(-60, "dialnexa", EventType.RECEIVED),
    _entry(-59, "bot", EventType.POSTED, channel="C0FINANCE", ts="1.2"),
    _entry(-30, "U0ANA", EventType.APPROVED, approval=1, of=2, identity_confirmed=False),
    _entry(
        -25,
        "U0FINLEAD",
        EventType.ESCALATED,
        reason="Renewal lapses",
        urgency_before="high",
        urgency="urgent",
    ),
    _entry(-20, "U0BEN", EventType.APPROVED, approval=2, of=2, identity_confirmed=True),
    _entry(-19, "plisio", EventType.INVOICE_CREATED, txn_id="6431f0a5e7c3b2d19a8f0e41"),
    _entry(-10, "bot", EventType.NUDGE_SENT, step=1, kind="reminder", notified="U0BEN"),
    _entry(-8, "plisio", EventType.PAYMENT_STATUS, status="pending", state="awaiting"),
    _entry(-5, "plisio", EventType.PAID, status="completed", state="paid"),
]


def test_trail_reads_as_sentences_with_channel_names() -> None:
    card, now = state_card("paid")
    message = handoff_status_message(
        card, TRAIL, permalink=None, now=now, channel_names={"C0FINANCE": "finance"}
    )
    assert_within_limits(message)
    trail = message["blocks"][1]["text"]["text"]
    for sentence in (
        "Received from DialNexa",
        "Posted in #finance",
        "<@U0ANA> approved (1 of 2)",
        "<@U0FINLEAD> escalated it (high → urgent): Renewal lapses",
        "<@U0BEN> approved (2 of 2) after confirming the caller's identity",
        "Plisio invoice created",
        "Reminder sent to <@U0BEN>",
        "Plisio: Awaiting payment",
        "Plisio: paid",
    ):
        assert sentence in trail
    for raw in ("· approved", "invoice_created", "payment_status", "nudge_sent", "C0FINANCE"):
        assert raw not in trail
    assert "6431f0a5e7c3b2d19a8f0e41" not in json.dumps(message["blocks"][:2])
    assert_golden("status_handoff", message)


def test_unknown_channel_names_are_slack_mentions() -> None:
    posted = event_sentence("posted", "bot", {"channel": "C0FINANCE"}, {})
    assert posted == "Posted in <#C0FINANCE>"
    moved = event_sentence("rerouted", "bot", {"from": "C0GONE", "to": "C0FINANCE"}, {})
    assert moved == "<#C0GONE> refused the post; moved to <#C0FINANCE>"


def test_a_slack_request_is_received_from_its_requester() -> None:
    assert event_sentence("received", "U0BILLINGOPS", {}, {}) == (
        "<@U0BILLINGOPS> requested it in Slack"
    )


def test_a_long_trail_keeps_the_newest_whole() -> None:
    card, now = state_card("paid")
    long_reason = "x" * 400
    trail = [_entry(i, "U0ANA", EventType.DECLINED, reason=long_reason) for i in range(40)]
    message = handoff_status_message(card, trail, permalink=None, now=now)
    assert_within_limits(message)
    text = message["blocks"][1]["text"]["text"]
    assert "earlier entries not shown" in text
    assert text.count("<!date^") == text.count("|2026-")  # no date token was cut
