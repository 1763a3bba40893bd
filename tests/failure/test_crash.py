"""SIGKILL the bot at random points while handoffs arrive and approvals run; nothing is lost or
done twice.

Each trial runs the real ``python -m bot`` against a fresh database, with DialNexa retrying every
delivery until it gets a 2xx (as a real sender does) and approvers clicking Approve (sometimes
twice at once) until the message shows the decision. The bot is killed with SIGKILL several
times at random moments — during start-up, intake, posting, approval and invoice creation — and
restarted. At the end every handoff must be stored once, posted once, approved, and invoiced
exactly once in Plisio, with the Slack message showing the invoice.

``FAILURE_TRIALS`` sets the number of trials (default 12) and ``FAILURE_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter

import pytest

from bench.stack import (
    APPROVE_ACTION,
    BotProcess,
    Delivered,
    handoff_payload,
    has_button,
    posted_handoffs,
)
from sandbox.slack_state import Demo
from tests.failure.conftest import Stack

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("FAILURE_TRIALS", "12"))
BASE_SEED = int(os.environ.get("FAILURE_SEED", str(random.SystemRandom().randrange(10**6))))
HANDOFFS = 8
KILLS = 3
TRIAL_SECONDS = 90  # a hard cap; a trial normally takes 6-10 s
CLICK_EVERY = 1.0  # seconds between one approver's clicks on the same message
APPROVERS = (Demo.APPROVER_1, Demo.APPROVER_2)  # a listed approver and a group member


async def _chaos(bot: BotProcess, rng: random.Random) -> None:
    """Kill the bot KILLS times at random moments after each (re)start, then leave it running."""
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.15, 2.2))
        await bot.kill()
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        await bot.start()


async def _approve_everything(
    stack: Stack,
    bot: BotProcess,
    results: dict[str, Delivered],
    calls: list[str],
    rng: random.Random,
    deadline: float,
) -> Counter[str]:
    """Click Approve on every posted handoff until its message no longer offers it."""
    user = stack.user(bot)
    last_click: dict[str, float] = {}
    clicks: Counter[str] = Counter()
    in_flight: set[asyncio.Task[tuple[int | None, float]]] = set()
    try:
        while time.monotonic() < deadline:
            posted = posted_handoffs(stack.slack)
            waiting = 0
            for call_id in calls:
                delivered = results.get(call_id)
                if delivered is not None and not delivered.accepted:
                    continue  # refused for good: nothing to approve (the test reports it)
                handoff_id = delivered.handoff_id if delivered else None
                messages = posted.get(handoff_id) if handoff_id else None
                if not handoff_id or not messages:
                    waiting += 1
                    continue
                message = messages[0]
                if not has_button(message, APPROVE_ACTION):
                    continue
                waiting += 1
                if time.monotonic() - last_click.get(call_id, 0.0) < CLICK_EVERY:
                    continue
                last_click[call_id] = time.monotonic()
                double = rng.random() < 0.3  # a double click, or two approvers at once
                who = rng.sample(APPROVERS, 2) if double else [rng.choice(APPROVERS)]
                for clicker in who:
                    clicks[call_id] += 1
                    task = asyncio.create_task(
                        user.click(clicker, APPROVE_ACTION, handoff_id, message.channel, message.ts)
                    )
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
            if waiting == 0 and len(results) == len(calls):
                break
            await asyncio.sleep(0.05)
        else:
            stuck = {
                c: (
                    r.handoff_id,
                    [has_button(m, APPROVE_ACTION) for m in posted.get(r.handoff_id or "", [])],
                )
                for c, r in results.items()
            }
            raise AssertionError(
                f"approvals never finished (call: id, Approve shown): {stuck}\n{stack.logs()}"
            )
    finally:
        await asyncio.gather(*in_flight, return_exceptions=True)
    return clicks


@pytest.mark.parametrize("trial", range(TRIALS), ids=lambda t: f"trial{t}")
async def test_sigkill_loses_nothing_and_duplicates_nothing(stack: Stack, trial: int) -> None:
    seed = BASE_SEED + trial
    rng = random.Random(seed)
    context = f"(FAILURE_SEED={BASE_SEED}, trial {trial}, seed {seed})"
    stack.plisio.delay_seconds = 0.05  # widens the window between Plisio acting and us recording
    bot = stack.bot()
    calls = [f"dnx_crash_{seed}_{i}" for i in range(HANDOFFS)]
    results: dict[str, Delivered] = {}
    dialnexa = stack.dialnexa(bot)
    deadline = time.monotonic() + TRIAL_SECONDS - 20

    async def send(call_id: str) -> None:
        await asyncio.sleep(rng.uniform(0.0, 3.0))
        results[call_id] = await dialnexa.deliver(
            handoff_payload(call_id), timeout=deadline - time.monotonic(), pause=0.05
        )

    async with asyncio.timeout(TRIAL_SECONDS):
        await bot.start()
        approving = asyncio.create_task(
            _approve_everything(stack, bot, results, calls, rng, deadline)
        )
        await asyncio.gather(_chaos(bot, rng), *(send(c) for c in calls))
        await bot.wait_healthy()
        clicks = await approving
        settled = await stack.inspector.wait_outbox_empty(timeout=deadline - time.monotonic())

    assert bot.kills == KILLS, context
    refused = {c: r.answers for c, r in results.items() if not r.accepted}
    assert not refused, f"deliveries never accepted: {refused} {context}\n{stack.logs()}"
    if not settled:
        dump = await stack.inspector.outbox_dump()
        pytest.fail(f"outbox never drained {context}\n{dump}\n{stack.logs()}")

    handoffs = {h.call_id: h for h in await stack.inspector.handoffs()}
    assert sorted(handoffs) == sorted(calls), context
    for call_id, delivered in results.items():
        assert delivered.handoff_id == handoffs[call_id].id, f"{call_id}: id changed {context}"

    posted = posted_handoffs(stack.slack)
    assert sorted(posted) == sorted(h.id for h in handoffs.values()), f"stray posts {context}"
    invoices = {i.order_number: i for i in await stack.inspector.invoices()}
    for call_id, row in handoffs.items():
        messages = posted[row.id]
        assert len(messages) == 1, f"{call_id} posted {len(messages)} times {context}"
        message = messages[0]
        assert (row.channel, row.message_ts) == (message.channel, message.ts), context
        made = stack.plisio.invoices_for_order(call_id)
        assert len(made) == 1, f"{call_id}: {len(made)} Plisio invoices {context}"
        assert row.status == "invoiced", f"{call_id} is {row.status} {context}\n{stack.logs()}"
        assert invoices[call_id].txn_id == made[0].txn_id, context
        assert not has_button(message, APPROVE_ACTION), context
        assert made[0].invoice_url in str(message.blocks), (
            f"{call_id}: the message does not show the invoice {context}"
        )
        assert clicks[call_id] >= 1, context
    assert await stack.inspector.failed_outbox() == [], context
