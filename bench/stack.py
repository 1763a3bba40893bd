"""The loopback stack the failure suite and the benchmarks share.

The bot runs as a real ``python -m bot`` child process configured only through its environment,
with Slack and Plisio pointed at loopback fakes; a DialNexa sender and a Slack "user" sign their
requests exactly as the real senders do. Everything listens on 127.0.0.1, and every wait here is
bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sandbox.slack_api import SlackAPI
from sandbox.slack_state import Message
from services.db.engine import normalise_url
from services.signing import sign

__all__ = [
    "EXAMPLES_DIR",
    "PLISIO_KEY",
    "ROOT",
    "ROUTING_TOML",
    "SLACK_SIGNING_SECRET",
    "SLACK_TOKEN",
    "WEBHOOK_SECRET",
    "BotProcess",
    "ChildServer",
    "Delivered",
    "DialNexa",
    "Inspector",
    "SlackUser",
    "free_port",
    "fresh_database",
    "handoff_payload",
    "has_button",
    "posted_handoffs",
]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples" / "handoffs"
SLACK_TOKEN = "xoxb-loopback-token"
SLACK_SIGNING_SECRET = "loopback-slack-signing-secret"
PLISIO_KEY = "loopback-plisio-secret-key"
WEBHOOK_SECRET = "loopback-dialnexa-secret"
METADATA_EVENT = "finance_handoff"
APPROVE_ACTION = "handoff_approve"
APPROVE_MODAL = "handoff_approve_modal"  # the confirm modal an allowed Approve click opens
RETRY_ACTION = "handoff_retry"

# The demo workspace's channels, approvers and groups (sandbox.slack_state.Demo).
ROUTING_TOML = """\
[channels]
default = "C0FINANCE"
escalation = "C0FINESCALATE"
dispute = "C0FINDISPUTES"
refund = "C0FINDISPUTES"
collections = "C0FINCOLLECT"
receipt_resend = "C0BILLINGOPS"

[mentions]
finance_group = "S0FINANCE"
finance_lead = "U0FINLEAD"

[approvers]
users = ["U0APPROVER1"]
usergroups = ["S0APPROVERS"]

[finance]
usergroups = ["S0FINANCE"]

[approvals.two_person_at]
USD = "10000"
EUR = "10000"
GBP = "8000"

[urgency]
deadline_within_hours = 24
[urgency.high_amount_at]
USD = "5000"
EUR = "5000"

[review]
low_confidence_below = 0.8
[review.high_value_at]
USD = "10000"
EUR = "10000"
"""

# Only these reach the child: a developer's own SLACK_APP_TOKEN or DATABASE_URL must not leak in.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def handoff_payload(
    call_id: str, *, example: str = "create_invoice", **changes: Any
) -> dict[str, Any]:
    """One of the repo's example handoffs under a new call id (and any top-level changes)."""
    data: dict[str, Any] = json.loads(
        (EXAMPLES_DIR / f"{example}.json").read_text(encoding="utf-8")
    )
    data["call_id"] = call_id
    data.update(changes)
    return data


# ---- the bot process -------------------------------------------------------------------------


class ChildServer:
    """A Python module served as a child process on 127.0.0.1: start, health, SIGKILL, restart."""

    def __init__(
        self,
        workdir: Path,
        module: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        name: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.module = module
        self.args = list(args)
        self.name = name or module
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{self.name}.log"
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0
        self.kills = 0
        base = {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ} | base
        self.env.update(env or {})

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Spawn the process (its cwd is the work dir, so no developer ``.env`` is read)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.prepare()
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"\n==== start #{self.starts + 1} at {time.time():.3f}\n".encode())
        self._log.flush()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            *self.args,
            cwd=self.workdir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.starts += 1

    def prepare(self) -> None:
        """Write whatever the child reads before it starts (nothing by default)."""

    async def wait_healthy(self, timeout: float = 30.0) -> float:
        """Seconds until ``/healthz`` answers 200; raises (with the log's tail) otherwise."""
        started = time.monotonic()
        deadline = started + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited while starting:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return time.monotonic() - started
                await asyncio.sleep(0.02)
        raise TimeoutError(f"{self.name} not healthy after {timeout} s:\n{self.log_tail()}")

    async def start_healthy(self, timeout: float = 30.0) -> float:
        """Start and wait for health; returns seconds from spawn to a healthy ``/healthz``."""
        began = time.monotonic()
        await self.start()
        await self.wait_healthy(timeout)
        return time.monotonic() - began

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=10)
        self.kills += 1

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait for a clean exit; SIGKILL if it does not come in time."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout)
        except TimeoutError:
            await self.kill()

    async def close(self) -> None:
        """Make sure the child is gone and the log is closed (call in ``finally``)."""
        try:
            await self.kill()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def log_tail(self, lines: int = 60) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            content = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(content.splitlines()[-lines:])


class BotProcess(ChildServer):
    """``python -m bot`` configured through its environment for the loopback stack."""

    def __init__(
        self,
        workdir: Path,
        *,
        slack_url: str,
        plisio_url: str,
        database_url: str,
        database_schema: str | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "bot",
    ) -> None:
        port = port or free_port()
        self.routing_path = workdir / "routing.toml"
        values = {
            "BOT_MODE": "slack",
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": slack_url,
            "SLACK_PROCESS_BEFORE_RESPONSE": "false",
            "PLISIO_SECRET_KEY": PLISIO_KEY,
            "PLISIO_API_URL": plisio_url,
            "DIALNEXA_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ROUTING_FILE": str(self.routing_path),
            "OUTBOX_POLL_SECONDS": "0.2",
            "LOG_LEVEL": "INFO",
        }
        if database_schema:
            values["DATABASE_SCHEMA"] = database_schema
        super().__init__(workdir, "bot", env=values | dict(env or {}), port=port, name=name)

    def prepare(self) -> None:
        if not self.routing_path.exists():
            self.routing_path.write_text(ROUTING_TOML, encoding="utf-8")


# ---- the database ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(
    workdir: Path, pg_url: str | None = None, *, name: str = "bot.db"
) -> AsyncIterator[tuple[str, str | None]]:
    """(url, schema): a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if not pg_url:
        yield f"sqlite+aiosqlite:///{workdir / name}", None
        return
    url = normalise_url(pg_url)
    schema = f"b_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield url, schema
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@dataclass(frozen=True)
class HandoffState:
    id: str
    call_id: str
    status: str
    channel: str
    message_ts: str | None


@dataclass(frozen=True)
class InvoiceState:
    handoff_id: str | None
    order_number: str
    txn_id: str | None
    status: str


class Inspector:
    """Reads the bot's tables from outside the process (plain reads, never a write lock)."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        kwargs: dict[str, Any] = {}
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(normalise_url(url), **kwargs)

    async def _rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())

    async def handoffs(self) -> list[HandoffState]:
        rows = await self._rows("SELECT id, call_id, status, channel, message_ts FROM handoffs")
        return [HandoffState(*row) for row in rows]

    async def invoices(self) -> list[InvoiceState]:
        rows = await self._rows("SELECT handoff_id, order_number, txn_id, status FROM invoices")
        return [InvoiceState(*row) for row in rows]

    async def pending_outbox(self) -> int:
        rows = await self._rows("SELECT count(*) FROM outbox WHERE status = 'pending'")
        return int(rows[0][0])

    async def outbox_dump(self) -> str:
        """Every outbox row, one a line (for failure messages)."""
        rows = await self._rows(
            "SELECT id, kind, status, attempts, available_at, locked_until, last_error"
            " FROM outbox ORDER BY id"
        )
        return "\n".join(" | ".join(str(v) for v in row) for row in rows)

    async def failed_outbox(self) -> list[tuple[str, str | None]]:
        rows = await self._rows("SELECT kind, last_error FROM outbox WHERE status = 'failed'")
        return [(str(r[0]), r[1]) for r in rows]

    async def wait_outbox_empty(self, timeout: float) -> bool:
        """True once no outbox item is pending (polls; gives up after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if await self.pending_outbox() == 0:
                    return True
            await asyncio.sleep(0.1)
        return False

    async def close(self) -> None:
        await self.engine.dispose()


# ---- senders ---------------------------------------------------------------------------------


@dataclass
class Delivered:
    call_id: str
    status: int | None = None  # the first 2xx, or the last answer when none came
    handoff_id: str | None = None
    tries: int = 0
    answers: list[str] = field(default_factory=list)  # status codes and connection errors

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class DialNexa:
    """Signs and posts handoffs like DialNexa, retrying until a 2xx as a real sender would."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, secret: str = WEBHOOK_SECRET
    ) -> None:
        self.session = session
        self.url = url.rstrip("/") + "/dialnexa/handoffs"
        self.secret = secret

    def signed(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-DialNexa-Timestamp": timestamp,
            "X-DialNexa-Signature": sign(self.secret, timestamp, body),
        }
        return body, headers

    async def send(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any], float | None]:
        """One delivery: (status, JSON body, Retry-After seconds)."""
        body, headers = self.signed(payload)
        async with self.session.post(self.url, data=body, headers=headers) as response:
            answer = await response.json(content_type=None)
            retry_after = response.headers.get("Retry-After")
            return response.status, answer, float(retry_after) if retry_after else None

    async def deliver(
        self, payload: dict[str, Any], *, timeout: float = 60.0, pause: float = 0.1
    ) -> Delivered:
        """Deliver until a 2xx (honouring Retry-After) or until ``timeout`` runs out."""
        result = Delivered(payload["call_id"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result.tries += 1
            wait = pause
            try:
                status, answer, retry_after = await self.send(payload)
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
                result.answers.append(type(exc).__name__)
            else:
                result.status = status
                result.answers.append(str(status))
                if 200 <= status < 300:
                    result.handoff_id = answer.get("handoff_id")
                    return result
                if status < 500 and status != 429:
                    return result  # refused for good: a real sender would not retry
                wait = retry_after if retry_after is not None else pause
            await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))
        return result


class SlackUser:
    """Clicks buttons as a Slack user: block_actions payloads signed with the signing secret."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        secret: str = SLACK_SIGNING_SECRET,
    ) -> None:
        self.session = session
        self.url = url.rstrip("/") + "/slack/events"
        self._verifier = SignatureVerifier(secret)

    def signed_click(
        self, user: str, action_id: str, value: str, channel: str, message_ts: str | None
    ) -> tuple[bytes, dict[str, str]]:
        payload = {
            "type": "block_actions",
            "team": {"id": "T0ACME", "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
            "api_app_id": "A0FINBOT",
            "token": "legacy",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "channel": {"id": channel, "name": channel},
            "message": {"ts": message_ts, "type": "message"},
            "response_url": "",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "actions",
                    "type": "button",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self._signed({"payload": json.dumps(payload)})

    def signed_submission(
        self, user: str, callback_id: str, private_metadata: str
    ) -> tuple[bytes, dict[str, str]]:
        """A modal's view_submission (no inputs filled), signed as Slack signs it."""
        payload = {
            "type": "view_submission",
            "team": {"id": "T0ACME", "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
            "api_app_id": "A0FINBOT",
            "token": "legacy",
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "view": {
                "id": f"V{uuid.uuid4().hex[:10].upper()}",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": {}},
                "hash": "h",
            },
        }
        return self._signed({"payload": json.dumps(payload)})

    def _signed(self, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        body = urlencode(fields)
        timestamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature or "",
        }
        return body.encode(), headers

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int | None, float]:
        began = time.perf_counter()
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                return response.status, time.perf_counter() - began
        except (aiohttp.ClientError, TimeoutError):
            return None, time.perf_counter() - began

    async def click(
        self,
        user: str,
        action_id: str,
        value: str,
        channel: str,
        message_ts: str | None,
    ) -> tuple[int | None, float]:
        """(HTTP status or None when the connection failed, seconds until the answer).

        Approve opens a confirm modal once the click is allowed; like a person, this then
        submits it. The seconds are the click's own (its ack); the status is the submission's
        when the click was answered.
        """
        status, seconds = await self._post(
            *self.signed_click(user, action_id, value, channel, message_ts)
        )
        if action_id != APPROVE_ACTION or status != 200:
            return status, seconds
        meta = json.dumps(
            {"handoff_id": value, "channel": channel, "message_ts": message_ts, "user_id": user},
            separators=(",", ":"),
        )
        submitted, _ = await self._post(*self.signed_submission(user, APPROVE_MODAL, meta))
        return submitted, seconds


# ---- what the fake Slack saw -----------------------------------------------------------------


def posted_handoffs(slack: SlackAPI) -> dict[str, list[Message]]:
    """Top-level handoff messages in every channel, by the handoff id in their metadata."""
    found: dict[str, list[Message]] = {}
    for channel in slack.workspace.channels.values():
        for message in channel.visible():
            if message.is_reply or not message.metadata:
                continue
            if message.metadata.get("event_type") != METADATA_EVENT:
                continue
            handoff_id = (message.metadata.get("event_payload") or {}).get("handoff_id")
            if handoff_id:
                found.setdefault(str(handoff_id), []).append(message)
    return found


def has_button(message: Message, action_id: str) -> bool:
    """Whether a message still offers the button ``action_id``."""
    return any(
        element.get("action_id") == action_id
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    )
