"""The Zendesk connector through the real app: one ticket per call, one private note per
decision, whatever fails in between."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from connectors.base import ConnectorContext, Done, GiveUp
from connectors.zendesk import ZendeskConnector, idempotency_key
from connectors.zendesk.wording import marker
from sandbox.slack_state import Demo
from services.db.models import ExternalRef
from services.events import Event, EventType
from tests.connectors.zendesk.conftest import World
from tests.support.examples import example, fresh_call_id

CARD = "4111 1111 1111 1111"


def dispute(**changes: object) -> dict[str, object]:
    return example("duplicate_charge_dispute", call_id=fresh_call_id("dnx_zd"), **changes)


def connector(world: World) -> ZendeskConnector:
    found = world.bot.deps.connectors.runtime.connectors["zendesk"]
    assert isinstance(found, ZendeskConnector)
    return found


async def posted_event(world: World, handoff_id: str) -> Event:
    trail = await world.bot.deps.handoffs.audit_trail(handoff_id)
    entry = next(e for e in trail if e.action == EventType.POSTED.value)
    return Event.from_row(entry)


def no_public_comment_and_no_status_change(world: World) -> None:
    for ticket in world.zendesk.tickets.values():
        assert ticket.status_changes == []
        # The customer's own first comment is public; none of the bot's is.
        assert all(not c.public for c in ticket.comments if c.author_id == world.zendesk.agent_id)
    for request in world.zendesk.requests:
        body = request.body or {}
        ticket = body.get("ticket") or {}
        assert "status" not in ticket
        comment = ticket.get("comment")
        if comment is not None:
            assert comment.get("public") is False


async def test_a_posted_handoff_gets_one_ticket_with_a_private_summary(world: World) -> None:
    payload = dispute()
    handoff_id = await world.bot.accept(payload)

    [ticket] = world.zendesk.tickets.values()
    assert ticket.external_id == payload["call_id"]
    assert ticket.tags == ["dialnexa", "dispute"]
    assert ticket.subject == "Dispute: Quill Analytics"
    assert world.zendesk.users["finance@quill.example"]["id"] == ticket.requester_id
    [first] = ticket.comments
    assert not first.public
    for words in ("Caller asked:", "Next step: Verify both", "Owner: ap-lead@acme.example",
                  "Amount: 1180.00 USD", "Transcript: https://app.dialnexa.example/",
                  "Slack: "):  # fmt: skip
        assert words in first.body
    [create] = [r for r in world.zendesk.requests if r.method == "POST"]
    assert create.idempotency_key == idempotency_key(str(payload["call_id"]))

    card = await world.bot.card(handoff_id)
    assert card.context["zendesk"]["label"] == f"ticket #{ticket.id}"
    assert card.context["zendesk"]["url"].endswith(f"/agent/tickets/{ticket.id}")
    refs = await world.bot.deps.handoffs.linked_records(handoff_id)
    assert [(r.system, r.kind, r.external_id) for r in refs] == [
        ("zendesk", "ticket", str(ticket.id))
    ]
    no_public_comment_and_no_status_change(world)


async def test_every_later_decision_adds_one_private_note(world: World) -> None:
    handoff_id = await world.bot.accept(dispute())
    await world.bot.deps.handoffs.escalate(
        handoff_id, Demo.APPROVER_1, "customer threatens chargeback"
    )
    await world.bot.deps.handoffs.decline(
        handoff_id, Demo.APPROVER_1, "second payment was a refund"
    )
    await world.bot.drain()
    await world.later()  # a note run beside an earlier one waits for it: they keep their order
    await world.later()  # nothing new: no note twice

    [ticket] = world.zendesk.tickets.values()
    bodies = [c.body for c in ticket.comments]
    assert len(bodies) == 3
    assert bodies[1].startswith("Finance escalated this request: customer threatens chargeback")
    assert bodies[2].startswith("Finance declined this request: second payment was a refund")
    card = await world.bot.card(handoff_id)
    assert "3 private notes from finance" in card.context["zendesk"]["lines"]
    no_public_comment_and_no_status_change(world)


async def test_no_customer_email_no_ticket(world: World) -> None:
    payload = dispute()
    payload["customer"] = {"name": "Quill Analytics"}
    handoff_id = await world.bot.accept(payload)
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "no")
    await world.bot.drain()
    assert world.zendesk.tickets == {}
    assert world.zendesk.requests == []
    assert all(i.status == "done" for i in await world.zendesk_items())


async def test_a_429_waits_for_retry_after_then_creates_one_ticket(world: World) -> None:
    world.zendesk.fail_next(status=429, retry_after=30)
    handoff_id = await world.bot.accept(dispute())
    assert world.zendesk.tickets == {}
    [item] = await world.zendesk_items()
    assert item.status == "pending" and item.attempts == 1
    # Retry-After is honoured: 30 s later, not at the runtime's own 2 s backoff.
    assert (item.available_at - world.clock.now).total_seconds() == pytest.approx(30, abs=1)
    await world.later(minutes=1)
    assert len(world.zendesk.tickets) == 1
    assert "zendesk" in (await world.bot.card(handoff_id)).context


async def test_a_5xx_after_the_ticket_was_created_makes_no_second_ticket(world: World) -> None:
    # The create lands, its answer is lost; the retry finds it by external_id.
    world.zendesk.fail_next(status=502, after_commit=True, method="POST")
    payload = dispute()
    handoff_id = await world.bot.accept(payload)
    assert len(world.zendesk.tickets) == 1
    await world.later()
    assert len(world.zendesk.by_external_id(str(payload["call_id"]))) == 1
    assert len(world.zendesk.tickets) == 1
    [item] = await world.zendesk_items()
    assert item.status == "done"
    refs = await world.bot.deps.handoffs.linked_records(handoff_id)
    assert len(refs) == 1


async def test_the_idempotency_key_alone_also_prevents_a_second_ticket(world: World) -> None:
    payload = dispute()
    handoff_id = await world.bot.accept(payload)
    # Suppose the external_id look-up missed it (an index lagging): the key still holds.
    world.zendesk.tickets[next(iter(world.zendesk.tickets))].external_id = None
    event = await posted_event(world, handoff_id)
    async with world.bot.deps.db.sessions() as session, session.begin():
        await session.execute(delete(ExternalRef))  # as if the first try died before linking
    result = await connector(world).handle(event, ConnectorContext(2, world.clock))
    assert isinstance(result, Done)
    assert len(world.zendesk.tickets) == 1
    assert world.zendesk.requests[-1].method == "POST"


async def test_a_ticket_url_of_this_zendesk_gets_a_note_not_a_new_ticket(world: World) -> None:
    own = world.zendesk.add_ticket("Charged twice?", "finance@quill.example")
    payload = dispute()
    payload["links"] = {"support_ticket_url": f"{world.zendesk.url}/agent/tickets/{own.id}"}
    handoff_id = await world.bot.accept(payload)
    assert list(world.zendesk.tickets) == [own.id]
    assert [c.public for c in own.comments] == [True, False]  # the customer's, then our note
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "refund sent")
    await world.bot.drain()
    assert len(own.comments) == 3
    refs = await world.bot.deps.handoffs.linked_records(handoff_id)
    assert [r.external_id for r in refs] == [str(own.id)]
    no_public_comment_and_no_status_change(world)


async def test_a_ticket_url_of_another_zendesk_gets_a_new_ticket(world: World) -> None:
    stranger = world.zendesk.add_ticket("Someone else's", "other@else.example")
    payload = dispute()
    payload["links"] = {
        "support_ticket_url": f"https://stranger.zendesk.com/agent/tickets/{stranger.id}"
    }
    await world.bot.accept(payload)
    assert len(stranger.comments) == 1  # untouched
    [ours] = world.zendesk.by_external_id(str(payload["call_id"]))
    assert ours.id != stranger.id
    assert not any(r.path.endswith(f"/{stranger.id}.json") for r in world.zendesk.requests)


async def test_a_note_retried_after_a_lost_answer_is_not_repeated(world: World) -> None:
    handoff_id = await world.bot.accept(dispute())
    world.zendesk.fail_next(
        status=504, after_commit=True, method="PUT"
    )  # the PUT lands, its answer is lost
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "paid by card")
    await world.bot.drain()
    [ticket] = world.zendesk.tickets.values()
    assert len(ticket.comments) == 2
    await world.later()
    assert len(ticket.comments) == 2
    items = await world.zendesk_items()
    assert [i.status for i in items] == ["done", "done"]
    assert items[1].attempts == 2
    assert any(r.path.endswith("/comments.json") for r in world.zendesk.requests)
    card = await world.bot.card(handoff_id)
    assert "2 private notes from finance" in card.context["zendesk"]["lines"]


async def test_a_note_before_its_ticket_waits_for_it(world: World) -> None:
    world.zendesk.fail_next(status=503, retry_after=60)
    handoff_id = await world.bot.accept(dispute())
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "no")
    await world.bot.drain()
    assert world.zendesk.tickets == {}
    await world.later(minutes=2)
    await world.later(minutes=2)
    [ticket] = world.zendesk.tickets.values()
    assert len(ticket.comments) == 2
    assert all(i.status == "done" for i in await world.zendesk_items())


async def test_a_refusal_gives_up_once_with_zendesks_reason(world: World) -> None:
    world.zendesk.fail_next(
        status=422,
        body={
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"requester": [{"description": "Requester: Email is suspended"}]},
        },
    )
    handoff_id = await world.bot.accept(dispute())
    await world.bot.drain()
    card = await world.bot.card(handoff_id)
    error = card.context["zendesk"]["error"]
    assert "Zendesk refused the ticket: 422 RecordInvalid" in error
    assert "Email is suspended" in error
    thread = world.bot.thread_texts(card)
    assert sum("Zendesk refused the ticket" in t for t in thread) == 1
    # Later decisions wait for no ticket that will never come.
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "no")
    await world.bot.drain()
    assert all(i.status in {"failed", "done"} for i in await world.zendesk_items())
    assert world.zendesk.tickets == {}


async def test_nothing_suppressed_reaches_zendesk(world: World) -> None:
    payload = dispute(caller_request=f"Refund to my card {CARD} please, it was charged twice.")
    handoff_id = await world.bot.accept(payload)
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, f"card {CARD} is not ours")
    await world.bot.drain()
    [ticket] = world.zendesk.tickets.values()
    stored = "\n".join(c.body for c in ticket.comments) + ticket.subject
    sent = repr([r.body for r in world.zendesk.requests])
    for text in (stored, sent):
        assert CARD not in text
        assert "4111111111111111" not in "".join(ch for ch in text if ch.isdigit())
    assert "Refund to my card" in stored


async def test_a_direct_retry_of_a_note_finds_the_marker(world: World) -> None:
    handoff_id = await world.bot.accept(dispute())
    await world.bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "no")
    await world.bot.drain()
    [ticket] = world.zendesk.tickets.values()
    trail = await world.bot.deps.handoffs.audit_trail(handoff_id)
    declined = Event.from_row(next(e for e in trail if e.action == EventType.DECLINED.value))
    assert marker(declined.key) in ticket.comments[-1].body
    result = await connector(world).handle(declined, ConnectorContext(3, world.clock))
    assert isinstance(result, Done) and not isinstance(result, GiveUp)
    assert len(ticket.comments) == 2
