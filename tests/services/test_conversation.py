"""What typed intents do, against a real database: the buttons' policy, notes, look-ups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.conversation import ActedHow, Conversation, ConversationQueries
from services.db.engine import Database
from services.db.models import HandoffRow
from services.events import EventType
from services.handoffs import HandoffService
from services.intents import Intent, Kind
from services.permissions import Actor, Denial
from tests.support.examples import example
from tests.support.routing import make_routing

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWNER, FINANCE, OUTSIDER, APPROVER = "U0OWNER", "U0FIN", "U0OUTSIDER", "U0APPROVER1"
ACTORS = {
    OWNER: Actor(OWNER),
    FINANCE: Actor(FINANCE, in_finance=True),
    OUTSIDER: Actor(OUTSIDER),
    APPROVER: Actor(APPROVER, is_approver=True),
}


async def actor(user_id: str) -> Actor:
    return ACTORS.get(user_id, Actor(user_id))


def talk(db: Database) -> Conversation:
    handoffs = HandoffService(db, make_routing, clock=lambda: NOW)
    return Conversation(handoffs, ConversationQueries(db), actor=actor)


async def add(
    db: Database,
    *,
    status: str = "approved",
    deadline: datetime | None = None,
    ts: str = "1700000000.000100",
    customer: str = "Quill Analytics",
    created: datetime = NOW,
) -> str:
    handoff_id = uuid.uuid4().hex
    payload = example("duplicate_charge_dispute")
    payload["customer"] = {**payload["customer"], "name": customer}
    async with db.sessions() as session, session.begin():
        session.add(
            HandoffRow(
                id=handoff_id,
                call_id=f"dnx_call_{handoff_id[:12]}",
                kind="handoff",
                workflow="dispute",
                urgency="normal",
                urgent=False,
                status=status,
                channel="C0FINANCE",
                message_ts=ts,
                owner=OWNER,
                owner_slack_id=OWNER,
                deadline=deadline,
                payload=payload,
                occurred_at=created,
                created_at=created,
                updated_at=created,
            )
        )
    return handoff_id


async def events(db: Database, handoff_id: str, kind: EventType) -> list[dict[str, object]]:
    trail = await HandoffService(db, make_routing, clock=lambda: NOW).audit_trail(handoff_id)
    return [dict(e.detail) | {"actor": e.actor} for e in trail if e.action == kind.value]


SNOOZE = Intent(Kind.SNOOZE, until=NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("user", "how"),
    [(OWNER, ActedHow.DONE), (FINANCE, ActedHow.DONE), (OUTSIDER, ActedHow.REFUSED)],
)
async def test_snooze_follows_the_buttons_policy(
    database: Database, user: str, how: ActedHow
) -> None:
    handoff_id = await add(database)
    acted = await talk(database).act(SNOOZE, handoff_id, user)
    assert acted.how is how
    snoozed = await events(database, handoff_id, EventType.SNOOZED)
    refused = await events(database, handoff_id, EventType.REFUSED)
    if how is ActedHow.DONE:
        assert snoozed == [{"until": SNOOZE.until.isoformat(), "actor": user}]  # type: ignore[union-attr]
    else:
        assert acted.denial is Denial.NOT_OWNER_OR_FINANCE
        assert snoozed == [] and refused[0]["action"] == "snooze"


async def test_snooze_without_a_time_and_assign_without_a_person_ask(database: Database) -> None:
    handoff_id = await add(database)
    conversation = talk(database)
    assert (
        await conversation.act(Intent(Kind.SNOOZE), handoff_id, OWNER)
    ).how is ActedHow.NEEDS_TIME
    assert (
        await conversation.act(Intent(Kind.ASSIGN), handoff_id, OWNER)
    ).how is ActedHow.NEEDS_PERSON


async def test_assign_only_to_a_finance_member(database: Database) -> None:
    handoff_id = await add(database)
    conversation = talk(database)
    refused = await conversation.act(Intent(Kind.ASSIGN, user=OUTSIDER), handoff_id, OWNER)
    assert (refused.how, refused.denial) == (ActedHow.REFUSED, Denial.TARGET_NOT_FINANCE)
    acted = await conversation.act(Intent(Kind.ASSIGN, user=FINANCE), handoff_id, OWNER)
    assert acted.how is ActedHow.DONE
    assert acted.card is not None and acted.card.owner_slack_id == FINANCE


async def test_done_is_refused_by_the_state_machine_while_approval_is_pending(
    database: Database,
) -> None:
    pending = await add(database, status="open")
    acted = await talk(database).act(Intent(Kind.DONE), pending, OWNER)
    assert acted.how is ActedHow.FAILED and acted.result is not None
    assert acted.result.outcome.value == "awaiting_approval"
    approved = await add(database, ts="1700000000.000200")
    assert (await talk(database).act(Intent(Kind.DONE), approved, OWNER)).how is ActedHow.DONE


async def test_a_note_is_suppressed_and_the_prompt_comes_once(database: Database) -> None:
    handoff_id = await add(database)
    conversation = talk(database)
    first = await conversation.add_note(
        handoff_id, OWNER, "They read card 4111 1111 1111 1111 to me", now=NOW
    )
    assert first.removed == {"card_number"} and first.prompt
    second = await conversation.add_note(handoff_id, OWNER, "no date here either", now=NOW)
    assert not second.removed and not second.prompt
    stored = await events(database, handoff_id, EventType.NOTE_ADDED)
    assert "4111" not in str(stored[0]["note"]) and stored[0]["removed"] == ["card_number"]
    assert stored[1]["note"] == "no date here either"


async def test_a_complete_note_needs_no_prompt(database: Database) -> None:
    handoff_id = await add(database)
    saved = await talk(database).add_note(
        handoff_id, OWNER, "Agreed 450 EUR refund; <@U0FIN> sends it by friday", now=NOW
    )
    assert saved == type(saved)(removed=frozenset(), prompt=False)


async def test_queries_find_the_thread_a_customer_and_what_is_overdue(database: Database) -> None:
    old = await add(database, deadline=NOW - timedelta(hours=3), customer="Harbor & Finch LLC")
    await add(database, deadline=NOW + timedelta(days=1), ts="1700000000.000300")
    await add(database, status="done", deadline=NOW - timedelta(days=1), ts="1700000000.000400")
    queries = ConversationQueries(database)
    assert await queries.handoff_for_thread("C0FINANCE", "1700000000.000100") == old
    assert await queries.handoff_for_thread("C0OTHER", "1700000000.000100") is None
    assert [i.handoff_id for i in await queries.for_customer("harbor & finch")] == [old]
    overdue, total = await queries.overdue(OWNER, now=NOW)
    assert ([i.handoff_id for i in overdue], total) == ([old], 1)
