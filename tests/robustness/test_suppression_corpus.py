"""The suppression corpus, planted in every field of real signed handoffs, through the real app.

Every sensitive string of ``corpus.SENSITIVE`` (over 300, Faker's providers over several locales
plus hand-written shapes) goes into every string field the handoff model has (read from its JSON
Schema, so a new field is planted too), its e-mail address and every link (path, query and
fragment). After intake, the Slack posts and an approval into a Plisio invoice, none may appear
in any spacing, script or spoken form in the database rows, the SQLite file and its WAL, the log
records and formatted log lines, any request to Slack or any request to Plisio. Every benign
identifier of ``corpus.BENIGN`` (over 300), planted the same way, must be stored exactly as sent.
A call ID holding a secret is refused with 422 and stores nothing.

Values are planted in batches (as many as fit in each field of each handoff) so a database
takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from sandbox.slack_state import Demo
from services.db.models import HandoffRow
from services.handoff_model import Handoff
from services.redaction import redact_text
from services.states import HandoffStatus
from tests.robustness.corpus import BENIGN, SENSITIVE, leaks, string_fields
from tests.robustness.driver import dump_database
from tests.robustness.test_leaks import (
    _plisio_text,
    _records,
    _records_text,
    _slack_text,
    product_log,
)
from tests.support.db import backend_name
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

__all__ = ["product_log"]  # the log fixture, used here as in test_leaks

FIELDS = [f for f in string_fields(Handoff.model_json_schema()) if f[0] != ("call_id",)]
TEXT_FIELDS = [(path, limit) for path, limit, fmt in FIELDS if fmt == ""]
URL_FIELDS = [path for path, _, fmt in FIELDS if fmt == "uri"]
EMAIL_FIELDS = [path for path, _, fmt in FIELDS if fmt == "email"]
APPROVED = 3  # secret handoffs approved into Plisio invoices
CONCURRENCY = 24
# Long fields take a few values per handoff, not thousands of characters: the number of handoffs
# is set by the shortest fields (a phone number's 32 characters) anyway.
LONG_FIELD_CAP = 200
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def test_the_corpus_is_big_enough_and_the_leak_finder_sees_every_secret() -> None:
    assert len(SENSITIVE) >= 300 and len(BENIGN) >= 300
    assert {("customer", "billing_address", "line1"), ("customer", "phone")} <= {
        path for path, _ in TEXT_FIELDS
    }
    assert ("affected_record", "url") in URL_FIELDS and ("customer", "email") in EMAIL_FIELDS
    for secret in SENSITIVE:
        assert leaks(secret.text, (secret,)) == [secret], secret
    assert not leaks(" ".join(BENIGN))


def test_the_leak_finder_is_not_fooled_by_the_bots_own_timestamps() -> None:
    # Timestamps end in six random digits; a planted six-digit sort code must not be "found" in
    # one by chance (a flaky leak), while the same digits written as the caller said them are.
    short = [s for s in SENSITIVE if any(len(d) == 6 for d in s.digits)]
    assert short
    for secret in short:
        six = next(d for d in secret.digits if len(d) == 6)
        stamps = (
            f"2026-11-30 02:24:55.{six} · at 2026-11-30T02:24:55.{six}+00:00 · ts 1796005495.{six}"
            # as the SQLite file holds them: glued to the column before, or to the time before
            f" · bot2026-11-30 06:47:47.{six}\x01A · 39.9580222026-11-30 06:47:47.{six}2026-11-27"
            f" 17:00:00.000000\x00A"
        )
        assert leaks(stamps, (secret,)) == [], secret
        assert leaks(f"{stamps} and {secret.text}", (secret,)) == [secret]


def test_every_secret_is_suppressed_and_every_benign_id_kept_in_plain_text() -> None:
    leaked = [s.text for s in SENSITIVE if leaks(redact_text(s.text).text, (s,))]
    destroyed = [b for b in BENIGN if redact_text(b).text != b]
    assert (leaked, destroyed) == ([], [])


# ---- planting ----------------------------------------------------------------------------------


def _ascii_local_part(text: str) -> str | None:
    """``text`` as an e-mail local part (ASCII letters and digits joined by hyphens)."""
    folded = "".join(
        ch if ch.isascii() else str(int(ch)) if ch.isdecimal() else "-"
        for ch in unicodedata.normalize("NFKC", text)
    )
    local = _NOT_ALNUM.sub("-", folded).strip("-")
    return local if 0 < len(local) <= 64 else None


def _url(text: str) -> str:
    value = quote(text, safe="")
    return f"https://crm.example/records/{value}?note={value}&page=2#{value}"


def _set(payload: dict[str, Any], path: Sequence[str], value: str) -> None:
    target = payload
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


@dataclass
class Batch:
    """Handoffs carrying ``values`` so that each value lands in every field where it fits."""

    prefix: str
    values: Sequence[str]
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def build(self) -> list[dict[str, Any]]:
        cursors = {path: 0 for path, _ in TEXT_FIELDS} | {p: 0 for p in URL_FIELDS + EMAIL_FIELDS}
        count = len(self.values)
        number = 0
        while min(cursors.values()) < count:
            payload = example("create_invoice", call_id=f"{self.prefix}_{number}")
            payload["customer"]["billing_address"] = {"country": "US"}
            for path, field_limit in TEXT_FIELDS:
                limit = min(field_limit, LONG_FIELD_CAP)
                parts: list[str] = []
                while cursors[path] < count:
                    value = self.values[cursors[path]]
                    if len(value) > field_limit:
                        cursors[path] += 1  # cannot be sent in this field at all
                        continue
                    if parts and len(" ; ".join([*parts, value])) > limit:
                        break
                    parts.append(value)
                    cursors[path] += 1
                if parts:
                    _set(payload, path, " ; ".join(parts))
            for path in URL_FIELDS:
                if cursors[path] < count:
                    _set(payload, path, _url(self.values[cursors[path]]))
                    cursors[path] += 1
            for path in EMAIL_FIELDS:
                while cursors[path] < count:
                    local = _ascii_local_part(self.values[cursors[path]])
                    cursors[path] += 1
                    if local is not None:
                        _set(payload, path, f"{local}@example.com")
                        break
            self.payloads.append(payload)
            number += 1
        return self.payloads


async def _deliver_all(
    bot: Harness, payloads: list[dict[str, Any]], *, post: bool = True
) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(payloads), CONCURRENCY):
        answers = await asyncio.gather(
            *(bot.deliver(p) for p in payloads[start : start + CONCURRENCY])
        )
        for answer in answers:
            assert answer.status == 202, await answer.text()
            ids.append((await answer.json())["handoff_id"])
    if post:
        await bot.drain(rounds=len(payloads))
    return ids


@dataclass
class Planted:
    bot: Harness
    db_file: Path
    secret_payloads: list[dict[str, Any]]
    benign_payloads: list[dict[str, Any]]
    db_bytes: bytes = b""


def _sqlite_bytes(db_file: Path) -> bytes:
    if backend_name() != "sqlite":
        return b""
    files = [db_file, db_file.with_name(db_file.name + "-wal")]
    return b"\n".join(f.read_bytes() for f in files if f.exists())


@asynccontextmanager
async def _planted(tmp_path: Path) -> AsyncIterator[Planted]:
    secrets = Batch("dnx_corpus_secret", [s.text for s in SENSITIVE]).build()
    # Benign call IDs carry a benign identifier too: they must be accepted as they are.
    benign = Batch("dnx_corpus_benign", BENIGN).build()
    for index, payload in enumerate(benign):
        tail = _NOT_ALNUM.sub("-", BENIGN[index % len(BENIGN)]).strip("-")
        payload["call_id"] = f"dnx_b{index}_{tail}"[:128]
    async with running_bot(tmp_path, slack_post_rate_per_channel=100) as bot:
        trip = Planted(bot, tmp_path / "bot.db", secrets, benign)
        secret_ids = await _deliver_all(bot, secrets)
        for handoff_id in secret_ids[:APPROVED]:
            response = await bot.approve(Demo.APPROVER_1, handoff_id)
            assert response.status == 200
        await bot.drain()
        for handoff_id in secret_ids[:APPROVED]:
            assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
        # Benign handoffs are checked in the database, where they must be as sent; their Slack
        # posts are left queued (posting them would only double the test's time).
        await _deliver_all(bot, benign, post=False)
        trip.db_bytes = _sqlite_bytes(trip.db_file)
        yield trip


def _assert_no_leaks(where: str, haystack: str) -> None:
    found = leaks(haystack)
    assert not found, f"{len(found)} secrets in {where}:\n" + "\n".join(
        f"{s.kind}: {s.text!r}" for s in found[:20]
    )


# ---- the checks --------------------------------------------------------------------------------


async def test_the_corpus_planted_everywhere_leaks_nothing_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, product_log: io.StringIO
) -> None:
    # One journey, every check: planting the corpus is the costly part. Every logger is read at
    # DEBUG except the SQLite driver's own chatter (one line per statement, no data of ours).
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiosqlite")
    async with _planted(tmp_path) as planted:
        await _check_database(planted)
        _check_logs(caplog, product_log)
        _check_slack_and_plisio(planted)
        await _check_benign(planted)


async def _check_database(planted: Planted) -> None:
    dump = await dump_database(planted.bot.deps.db)
    _assert_no_leaks("the database", dump)
    assert "[card ending" in dump and "IBAN removed]" in dump and "redacted" in dump
    assert "customer.email" in dump  # e-mail addresses holding a secret were dropped, and said so
    if backend_name() == "sqlite":
        raw = planted.db_bytes
        assert b"dnx_corpus_secret_0" in raw
        _assert_no_leaks("the SQLite file or its WAL", raw.decode("utf-8", "replace"))


def _check_logs(caplog: pytest.LogCaptureFixture, product_log: io.StringIO) -> None:
    text = _records_text(_records(caplog))
    assert "handoff stored" in text
    _assert_no_leaks("log records", text)
    _assert_no_leaks("formatted log lines", product_log.getvalue())


def _check_slack_and_plisio(planted: Planted) -> None:
    bot = planted.bot
    slack = _slack_text(bot, [])
    assert len(bot.slack.calls_to("chat.postMessage")) >= len(planted.secret_payloads)
    _assert_no_leaks("requests to Slack", slack)
    assert "[card ending" in slack
    assert len(bot.plisio.invoices) == APPROVED
    _assert_no_leaks("requests to Plisio", _plisio_text(bot))


async def _check_benign(planted: Planted) -> None:
    async with planted.bot.deps.db.engine.connect() as connection:
        rows = dict(
            (await connection.execute(select(HandoffRow.call_id, HandoffRow.payload))).all()
        )
    destroyed: list[str] = []
    for payload in planted.benign_payloads:
        expected = Handoff.model_validate(payload).model_dump(mode="json", exclude_none=True)
        stored = rows[payload["call_id"]]
        for path, _, _ in FIELDS:
            want, got = _at(expected, path), _at(stored, path)
            if want != got:
                destroyed.append(f"{'.'.join(path)}: {want!r} -> {got!r}")
    assert not destroyed, f"{len(destroyed)} benign values changed:\n" + "\n".join(destroyed[:20])


def _at(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


# ---- call IDs ----------------------------------------------------------------------------------


def _secret_call_ids() -> Iterator[str]:
    for secret in SENSITIVE:
        if secret.kind.startswith(("card:", "iban:", "ssn", "routing")):
            local = _ascii_local_part(secret.text)
            if local is not None and len(local) <= 120:
                yield f"dnx_{local.replace('-', '_')}"


async def test_a_call_id_holding_a_secret_is_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    call_ids = sorted(set(_secret_call_ids()))
    assert len(call_ids) >= 100
    async with running_bot(tmp_path) as bot:
        for call_id in call_ids:
            response = await bot.deliver(example("create_invoice", call_id=call_id))
            body = await response.json()
            assert response.status == 422, (call_id, body)
            assert [p["field"] for p in body["fields"]] == ["call_id"], body
            assert "card number, bank detail or tax identifier" in body["fields"][0]["reason"]
            assert call_id not in json.dumps(body)
        assert "dnx_" not in await dump_database(bot.deps.db)
        assert not bot.slack.calls_to("chat.postMessage")
