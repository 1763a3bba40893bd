"""WEB_PROCESSES: several processes answer on one port. Every handoff is still stored, posted and
invoiced once; work queued by a helper is posted at once (not at the next poll); and helpers never
outlive their primary, whether it stops cleanly or is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from bench.stack import APPROVE_ACTION, DialNexa, SlackUser, handoff_payload, posted_handoffs
from sandbox.slack_state import Demo
from tests.failure.conftest import Stack, eventually, only_post, showing

pytestmark = pytest.mark.slow

HANDOFFS = 30


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_three_processes_store_post_and_invoice_each_handoff_once(stack: Stack) -> None:
    # A poll far longer than the test: posts that appear come from the helpers' wake-up call.
    bot = stack.bot("bot", WEB_PROCESSES="3", OUTBOX_POLL_SECONDS="60")
    await bot.start_healthy()
    assert bot.pid is not None
    assert len(children(bot.pid)) == 2, stack.logs()

    run = uuid.uuid4().hex[:6]
    calls = [f"dnx_multi_{run}_{i}" for i in range(HANDOFFS)]
    # A new connection per delivery, so the kernel spreads them over the three sockets; every
    # handoff is sent twice at once, as a retrying DialNexa might.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        dialnexa = DialNexa(session, bot.url)
        answers = await asyncio.gather(
            *(dialnexa.deliver(handoff_payload(c), timeout=30) for c in calls for _ in range(2))
        )
    ids: dict[str, set[str | None]] = {}
    for delivered in answers:
        assert delivered.accepted, delivered.answers
        ids.setdefault(delivered.call_id, set()).add(delivered.handoff_id)
    assert all(len(found) == 1 for found in ids.values()), ids
    assert sum(d.status == 202 for d in answers) == HANDOFFS

    log = bot.log_path.read_text(encoding="utf-8")
    served_by_helpers = [line for line in log.splitlines() if line.startswith("[web-")]
    assert any("handoff stored" in line for line in served_by_helpers), log[-3000:]

    # Posted by the outbox worker, not by a later poll: each well inside the 60 s poll.
    for found in ids.values():
        handoff_id = next(iter(found))
        assert handoff_id is not None
        await eventually(partial(only_post, stack, handoff_id), timeout=30, what="each post")
    assert len(posted_handoffs(stack.slack)) == HANDOFFS

    # Approvals through whichever process takes the connection: one invoice each.
    first = next(iter(ids[calls[0]]))
    assert first is not None
    message = only_post(stack, first)
    assert message is not None
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        user = SlackUser(session, bot.url)
        clicks = await asyncio.gather(
            *(
                user.click(Demo.APPROVER_1, APPROVE_ACTION, first, message.channel, message.ts)
                for _ in range(4)
            )
        )
    assert [status for status, _ in clicks] == [200] * 4
    invoice = await eventually(
        partial(stack.plisio.invoices_for_order, calls[0]), timeout=20, what="the invoice"
    )
    await eventually(
        partial(showing, stack, first, invoice[0].invoice_url),
        timeout=20,
        what="the message to show its invoice",
    )
    assert len(stack.plisio.invoices_for_order(calls[0])) == 1
    stored = await stack.inspector.handoffs()
    assert sorted(h.call_id for h in stored) == sorted(calls)


async def test_helpers_stop_with_the_primary_and_die_with_it(stack: Stack) -> None:
    bot = stack.bot("bot", WEB_PROCESSES="3")
    await bot.start_healthy()
    assert bot.pid is not None
    helpers = children(bot.pid)
    assert len(helpers) == 2, stack.logs()

    # A helper that dies is replaced.
    os.kill(helpers[0], signal.SIGKILL)
    replaced = await eventually(
        lambda: [p for p in children(bot.pid or 0) if p not in helpers] or None,
        timeout=15,
        what="a replacement helper",
    )
    assert len(replaced) == 1
    helpers = children(bot.pid)

    # SIGTERM: the primary stops its helpers before it exits.
    await bot.stop()
    assert not any(alive(pid) for pid in helpers), stack.logs()

    # SIGKILL: nothing in the primary runs, yet its helpers notice and go.
    await bot.start_healthy()
    assert bot.pid is not None
    helpers = children(bot.pid)
    assert len(helpers) == 2
    await bot.kill()
    await eventually(
        lambda: not any(alive(pid) for pid in helpers), timeout=15, what="orphaned helpers to exit"
    )
    # The port is free again: a new primary starts on it.
    await bot.start_healthy()


async def test_a_taken_port_stops_the_start_with_a_clear_error(stack: Stack) -> None:
    bot = stack.bot("bot", WEB_PROCESSES="2")
    with socket.socket() as taken:  # another program holds the port, without SO_REUSEPORT
        taken.bind(("127.0.0.1", bot.port))
        taken.listen()
        await bot.start()
        await eventually(lambda: not bot.running, timeout=60, what="the bot to give up")
    # It gave up because the port is taken (said so), not after waiting for helpers to start.
    log = bot.log_path.read_text(encoding="utf-8")
    assert "finance-handoff-bot cannot start" in log, log[-2000:]
    assert "before it listened" in log or "cannot listen on" in log, log[-2000:]
    assert bot.pid is not None and children(bot.pid) == []
