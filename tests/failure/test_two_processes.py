"""Two bot processes on one PostgreSQL database, fed the same webhooks and the same clicks: each
handoff is stored once, posted once, invoiced once, and its overdue owner is nudged once."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from bench.stack import APPROVE_ACTION, handoff_payload, has_button
from sandbox.slack_state import Demo
from tests.failure.conftest import Stack, eventually, only_post, showing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="two bot processes share one PostgreSQL database: set TEST_DATABASE_URL",
    ),
]

INVOICES = 5


async def test_two_processes_one_handoff_one_post_one_invoice_one_nudge(stack: Stack) -> None:
    assert stack.postgres
    fast = {"REMINDER_POLL_SECONDS": "0.5"}
    bots = [stack.bot("bot-a", **fast), stack.bot("bot-b", **fast)]
    await asyncio.gather(*(bot.start_healthy() for bot in bots))  # both migrate at once
    run = uuid.uuid4().hex[:6]
    invoice_calls = [f"dnx_pair_{run}_{i}" for i in range(INVOICES)]
    overdue = (datetime.now(UTC) - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    nudge_call = f"dnx_pair_{run}_overdue"
    payloads = [handoff_payload(c) for c in invoice_calls] + [
        handoff_payload(
            nudge_call,
            example="duplicate_charge_dispute",
            follow_up={
                "finance_owner": Demo.AP_LEAD,
                "next_step": "Call back",
                "deadline": overdue,
            },
        )
    ]

    # DialNexa delivers every handoff to both processes at the same moment.
    senders = [stack.dialnexa(bot) for bot in bots]
    answers = await asyncio.gather(*(s.deliver(p, timeout=30) for p in payloads for s in senders))
    by_call: dict[str, set[str | None]] = {}
    for delivered in answers:
        assert delivered.accepted, delivered.answers
        by_call.setdefault(delivered.call_id, set()).add(delivered.handoff_id)
    assert all(len(ids) == 1 for ids in by_call.values()), by_call
    ids = {call: next(iter(found)) for call, found in by_call.items()}
    assert sum(d.status == 202 for d in answers) == len(payloads)  # the other copy: a duplicate
    for handoff_id in ids.values():
        assert handoff_id is not None
        await eventually(partial(only_post, stack, handoff_id), timeout=20, what="each post")

    # Two approvers click Approve at the same moment, one through each process.
    users = [bots[0], bots[1]]
    clicks = []
    for call in invoice_calls:
        handoff_id = ids[call]
        assert handoff_id is not None
        message = only_post(stack, handoff_id)
        assert message is not None
        for bot, who in zip(users, (Demo.APPROVER_1, Demo.APPROVER_2), strict=True):
            clicks.append(
                stack.user(bot).click(who, APPROVE_ACTION, handoff_id, message.channel, message.ts)
            )
    statuses = [status for status, _seconds in await asyncio.gather(*clicks)]
    assert statuses == [200] * len(clicks)

    for call in invoice_calls:
        handoff_id = ids[call]
        assert handoff_id is not None
        invoice = await eventually(
            partial(stack.plisio.invoices_for_order, call), timeout=20, what="each invoice"
        )
        await eventually(
            partial(showing, stack, handoff_id, invoice[0].invoice_url),
            timeout=20,
            what="each message to show its invoice",
        )
    dm, _created = stack.slack.workspace.open_im(Demo.AP_LEAD)
    await eventually(lambda: stack.slack.messages_in(dm.id), timeout=20, what="the nudge")
    assert await stack.inspector.wait_outbox_empty(timeout=20)
    await asyncio.sleep(1.5)  # three more reminder polls on each process: still one nudge

    handoffs = await stack.inspector.handoffs()
    assert sorted(h.call_id for h in handoffs) == sorted(by_call)
    for call in invoice_calls:
        assert len(stack.plisio.invoices_for_order(call)) == 1, call
    for handoff in handoffs:
        message = only_post(stack, handoff.id)
        assert message is not None and message.ts == handoff.message_ts
        assert not has_button(message, APPROVE_ACTION) or handoff.call_id == nudge_call
    assert len(stack.slack.messages_in(dm.id)) == 1
    refusals = [e for e in stack.slack.workspace.ephemerals if "already" in e.text.lower()]
    assert len(refusals) == INVOICES  # every losing click was told who won
