"""Slow and hostile clients: read deadlines, the Server header, and a log that cannot be flooded.

Issue #11 item 7. The deadlines are set short here (a fraction of a second) so that a client that
stops sending is cut off within the test; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import SERVER_NAME
from bot.logging_setup import RefusalRateLimit, configure_logging
from services.db.models import HandoffRow
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.signing import signed_json
from tests.support.slack import signed_form, slash_command

SHORT = 0.3


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(
        tmp_path, http_header_timeout_seconds=SHORT, http_body_timeout_seconds=SHORT
    ) as harness:
        yield harness


async def connect(bot: Harness) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    server = bot.client.server
    assert server.host is not None and server.port is not None
    return await asyncio.open_connection(server.host, server.port)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), timeout=30)


async def test_headers_that_never_finish_are_cut_off(bot: Harness) -> None:
    reader, writer = await connect(bot)
    writer.write(b"POST /dialnexa/handoffs HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
    await writer.drain()
    # The server closes the connection without ever answering this request.
    assert await read_all(reader) == b""
    writer.close()


@pytest.mark.parametrize("path", ["/dialnexa/handoffs", "/slack/events", "/plisio/callback"])
async def test_a_body_that_never_finishes_is_408_and_changes_nothing(
    bot: Harness, path: str
) -> None:
    body, headers = signed_json(example("create_invoice"))
    reader, writer = await connect(bot)
    head = f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(head.encode() + b"\r\n" + body[: len(body) // 2])  # half the body, then silence
    await writer.drain()
    answer = await read_all(reader)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert b"request_timeout" in rest
    assert f"Server: {SERVER_NAME}".encode() in rest
    async with bot.deps.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HandoffRow)) == 0


async def test_a_slow_but_complete_body_is_still_handled(bot: Harness) -> None:
    body, headers = signed_json(example("create_invoice"))
    reader, writer = await connect(bot)
    head = f"POST /dialnexa/handoffs HTTP/1.1\r\nHost: bot\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += "Connection: close\r\n"
    writer.write(head.encode() + b"\r\n" + body[:100])
    await writer.drain()
    await asyncio.sleep(0)  # the rest arrives in a second write, well inside the deadline
    writer.write(body[100:])
    await writer.drain()
    answer = await read_all(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 202 Accepted")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/nowhere"),
        ("GET", "/dialnexa/handoffs"),
        ("POST", "/slack/events"),
    ],
)
async def test_the_server_header_names_no_version(bot: Harness, method: str, path: str) -> None:
    response = await bot.client.request(method, path, data=b"x" if method == "POST" else None)
    assert response.headers["Server"] == SERVER_NAME
    assert "aiohttp" not in str(response.headers).lower()
    assert "python" not in str(response.headers).lower()


async def test_unsigned_floods_leave_a_few_log_lines_and_a_count(bot: Harness) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    quieted = ("aiohttp.access", "httpx", "httpcore", "apscheduler.executors.default")
    saved_levels = {name: logging.getLogger(name).level for name in quieted}
    configure_logging("INFO", stream=stream)
    try:
        for i in range(60):
            if i % 2:
                body, headers = signed_form(
                    slash_command(
                        user="U1", command="/invoice", text="help", channel="C", response_url=""
                    ),
                    "wrong-secret",
                )
                response = await bot.client.post("/slack/events", data=body, headers=headers)
            else:
                body, headers = signed_json(example("create_invoice"), secret="wrong-secret")
                response = await bot.client.post("/dialnexa/handoffs", data=body, headers=headers)
            assert response.status == 401
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    lines = [line for line in stream.getvalue().splitlines() if "refused" in line]
    assert 1 <= len(lines) <= 10  # the burst, not sixty
    assert "Invalid request signature detected" not in stream.getvalue()  # Bolt's, with the body
    assert "help" not in stream.getvalue()


def test_the_bucket_refills_and_reports_what_it_dropped() -> None:
    now = [0.0]
    limit = RefusalRateLimit(burst=2, per_minute=6, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.WARNING, "x", 1, message, None, None)

    passed = [limit.filter(record("refused a request: x")) for _ in range(5)]
    assert passed == [True, True, False, False, False]
    assert limit.filter(record("something else entirely")) is True  # other lines untouched
    now[0] += 10  # one token back (6 a minute)
    line = record("refused a request: y")
    assert limit.filter(line) is True
    assert line.suppressed_before == "3 more suppressed"
    assert limit.filter(record("refused a request: z")) is False


async def test_aiohttps_own_error_answers_name_no_version_either(bot: Harness) -> None:
    reader, writer = await connect(bot)
    writer.write(b"GARBAGE\x00 / HTTP/1.1\r\n\r\n")  # refused by the parser, before any app code
    await writer.drain()
    answer = await read_all(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400")
    assert f"Server: {SERVER_NAME}\r\n".encode() in answer
    assert b"aiohttp" not in answer and b"Python" not in answer
