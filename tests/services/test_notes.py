"""Which thread note each event gets (``services.notes.note_for``), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.events import BOT, PLISIO, Event, EventLog, EventType
from services.notes import APPROVED_PARTLY, IDENTITY_CONFIRMED, NoteSpec, money, note_for

AT = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
ANA = "U0APPROVER1"


def event(kind: EventType, actor: str = ANA, handoff: str | None = "h_1", **detail: Any) -> Event:
    return Event(kind, handoff, actor, AT, detail, key="k1")


def paid(state: str, kind: EventType = EventType.MISMATCH, **amounts: Any) -> Event:
    return event(kind, PLISIO, state=state, status="completed", **amounts)


@pytest.mark.parametrize(
    ("given", "note"),
    [
        (event(EventType.APPROVED, approval=1, of=2), NoteSpec(APPROVED_PARTLY, ANA, AT)),
        (event(EventType.APPROVED, approval=2, of=2), NoteSpec("approved", ANA, AT)),
        (
            event(EventType.APPROVED, approval=1, of=1, identity_confirmed=True),
            NoteSpec("approved", ANA, AT, IDENTITY_CONFIRMED),
        ),
        (event(EventType.DECLINED, reason="Not ours"), NoteSpec("declined", ANA, AT, "Not ours")),
        (event(EventType.ESCALATED, reason="VIP"), NoteSpec("escalated", ANA, AT, "VIP")),
        (event(EventType.REASSIGNED, to="U0BEN"), NoteSpec("reassigned", ANA, AT, "U0BEN")),
        (
            event(EventType.SNOOZED, until="2026-11-27T09:00:00+00:00"),
            NoteSpec("snoozed", ANA, AT, "2026-11-27T09:00:00+00:00"),
        ),
        (event(EventType.DONE), NoteSpec("done", ANA, AT)),
        (event(EventType.RETRIED), NoteSpec("retried", ANA, AT)),
        (
            event(EventType.REISSUED, previous_txn_id="txn_9", previous_order="o1"),
            NoteSpec("reissued", ANA, AT, "txn_9"),
        ),
        (
            event(EventType.REISSUED, previous_txn_id=None, previous_order="o1"),
            NoteSpec("reissued", ANA, AT, "o1"),
        ),
        (paid("paid", EventType.PAID), NoteSpec("paid", PLISIO, AT)),
        (paid("expired", EventType.EXPIRED), NoteSpec("expired", PLISIO, AT)),
        (paid("cancelled", EventType.CANCELLED), NoteSpec("cancelled", PLISIO, AT)),
        (
            paid(
                "underpaid",
                expected="4200.000000",
                expected_currency="USDT",
                received="3900.5",
                received_currency="USDT",
            ),
            NoteSpec(
                "mismatch",
                PLISIO,
                AT,
                "underpaid — expected 4200.000000 USDT, received 3900.5 USDT",
            ),
        ),
        (
            paid("underpaid", expected="10", expected_currency="USD", received=None),
            NoteSpec("mismatch", PLISIO, AT, "underpaid — expected 10 USD, received nothing"),
        ),
        (
            paid(
                "overpaid",
                expected="4200",
                expected_currency="USDT",
                received="4300",
                received_currency="USDT",
            ),
            NoteSpec(
                "paid", PLISIO, AT, "Overpaid (expected 4200 USDT, received 4300 USDT): check it."
            ),
        ),
        (
            paid("review", reason="paid in BTC, invoiced in USDT"),
            NoteSpec("mismatch", PLISIO, AT, "paid in BTC, invoiced in USDT"),
        ),
        (
            event(EventType.PAYMENT_STATUS, PLISIO, state="awaiting", status="pending internal"),
            NoteSpec("payment_status", PLISIO, AT, "pending internal"),
        ),
    ],
)
def test_the_note_of_an_event(given: Event, note: NoteSpec) -> None:
    assert note_for(given) == note


@pytest.mark.parametrize(
    "given",
    [
        event(EventType.RECEIVED, BOT),
        event(EventType.POSTED, BOT),
        event(EventType.REFUSED),
        event(EventType.LOOKED_UP),
        event(EventType.NUDGE_SENT, BOT),
        event(EventType.CALLBACK_UNMATCHED, PLISIO),
        event(EventType.DECLINED, handoff=None, reason="no handoff, no thread"),
    ],
)
def test_events_without_a_thread_note(given: Event) -> None:
    assert note_for(given) is None


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(None, "USD", "nothing"), ("1000", "USD", "1000 USD"), ("5", None, "5")],
)
def test_money_is_shown_exactly(amount: str | None, currency: str | None, shown: str) -> None:
    assert money(amount, currency) == shown


def test_a_spec_survives_the_outbox() -> None:
    spec = NoteSpec("declined", ANA, AT, "Not ours")
    assert NoteSpec.from_payload(spec.payload()) == spec


def test_the_event_log_queues_a_note_only_when_it_has_notes() -> None:
    rows_without = EventLog().rows([event(EventType.DECLINED, reason="x")])[1]
    rows_with = EventLog(notes=note_for).rows([event(EventType.DECLINED, reason="x")])[1]
    assert rows_without == []
    [work] = rows_with
    assert (work["kind"], work["dedupe_key"]) == ("thread_note", "note:k1")
    assert work["payload"]["spec"]["action"] == "declined"
