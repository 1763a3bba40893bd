"""No card number, bank detail or VAT id survives a full journey anywhere the bot writes.

Secrets are planted in every free-text field of several handoffs (and in what finance people type
into Slack about them). After a whole journey (delivered, posted, approved into a Plisio invoice,
paid through callbacks, looked up with /handoff, escalated, reassigned, declined, requested with
/invoice new), no secret may appear, in any spacing, in: any database row, the SQLite file and
its write-ahead log, the log records and the product's formatted log lines, anything sent to
Slack, or anything sent to Plisio. The redaction markers must appear where the text was shown,
so the check cannot pass because nothing was written at all.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from blocks.ids import ActionId, BlockId, CallbackId, InputId, InvoiceField
from bot.logging_setup import configure_logging
from sandbox.slack_state import Demo
from services.db.models import HandoffRow
from services.redaction import redact_text
from services.states import HandoffStatus
from tests.robustness.driver import dump_database
from tests.support.db import backend_name
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.slack import view_submission


@dataclass(frozen=True)
class Secret:
    name: str
    digits: str  # the value's digits, as found in any spacing
    marker: str  # what the bot shows instead
    compact: str | None = None  # letters and digits, for IBANs and VAT ids


SECRETS = (
    Secret("Visa", "4111111111111111", "[card ending 1111]"),
    Secret("Mastercard", "5555555555554444", "[card ending 4444]"),
    Secret("Amex", "378282246310005", "[card ending 0005]"),
    Secret("DE IBAN", "89370400440532013000", "[DE IBAN removed]", "DE89370400440532013000"),
    Secret("GB IBAN", "12345698765432", "[GB IBAN removed]", "GB82WEST12345698765432"),
    Secret("routing number", "021000021", "[routing number removed]"),
    Secret("account number", "7311029455", "[bank account removed]"),
    Secret("bank account", "55512340987", "[bank account removed]"),
    Secret("DE VAT", "136695976", "[VAT number removed]", "DE136695976"),
    Secret("FR VAT", "40303265045", "[VAT number removed]", "FR40303265045"),
)

# The secrets as a caller (or a colleague) would say them, each with the words around it.
EVERYTHING = (
    "Caller read card 4111 1111 1111 1111, then Mastercard 5555-5555-5555-4444 and Amex "
    "378282246310005; refund to IBAN DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432; "
    "wire via routing number 021000021, account number 7311029455, bank account 55512340987; "
    "VAT DE136695976 and FR40303265045."
)
OTHER_SPACINGS = (
    "Again: 4111111111111111 / 4111-1111-1111-1111, 5555 5555 5555 4444, 3782 822463 10005, "
    "DE89370400440532013000, GB82 WEST 1234 5698 7654 32, VAT FR 40 303 265 045."
)
# Short fields get one secret each, in the spacing that fits their length limit.
SHORT = {
    ("agent", "id"): "agent 4111111111111111",
    ("agent", "name"): "Agent reading card 5555-5555-5555-4444",
    ("customer", "name"): "Acme, IBAN DE89 3704 0044 0532 0130 00",
    ("customer", "account_id"): "acct 7311029455",
    ("customer", "phone"): "4111 1111 1111 1111",
    ("billing", "invoice_number"): "GB82WEST12345698765432",
    ("billing", "payment_id"): "card 378282246310005",
    ("billing", "subscription_id"): "VAT DE136695976",
    ("follow_up", "finance_owner"): "routing number 021000021",
    ("affected_record", "system"): "FR40303265045",
    ("affected_record", "object"): "bank account 55512340987",
    ("affected_record", "id"): "5555 5555 5555 4444",
}
LONG = {
    (None, "caller_request"): 2000,
    (None, "findings"): 4000,
    (None, "transcript_excerpt"): 8000,
    ("billing", "refund_reason"): 1000,
    ("billing", "dispute_reason"): 1000,
    ("billing", "credit_request"): 1000,
    ("follow_up", "escalation_reason"): 1000,
    ("follow_up", "next_step"): 1000,
}
TYPED_IN_SLACK = f"Customer asked us to note this. {EVERYTHING}"

_DIGIT_RUN = re.compile(r"[0-9](?:[\s./-]*[0-9])*")
_SEPARATORS = re.compile(r"[\s./-]")


def leaks(haystack: str) -> list[str]:
    """Each secret found in ``haystack`` in any spacing, with a little context."""
    found: list[str] = []
    runs = [(m, re.sub(r"[^0-9]", "", m.group())) for m in _DIGIT_RUN.finditer(haystack)]
    squeezed = _SEPARATORS.sub("", haystack).upper()
    for secret in SECRETS:
        for match, digits in runs:
            if secret.digits in digits:
                start = max(0, match.start() - 60)
                found.append(f"{secret.name}: …{haystack[start : match.end() + 20]!r}…")
                break
        else:
            if secret.compact and secret.compact in squeezed:
                found.append(f"{secret.name}: {secret.compact} (separators removed)")
    return found


def planted(name: str, call_id: str) -> dict[str, Any]:
    """A repo example with a secret in every free-text field."""
    payload = example(name, call_id=call_id, match_confidence=0.95)
    for (section, field), limit in LONG.items():
        target = payload if section is None else payload.setdefault(section, {})
        target[field] = f"{field}: {EVERYTHING} {OTHER_SPACINGS}"[:limit]
    for (section, field), value in SHORT.items():
        payload.setdefault(section, {})[field] = value
    payload.setdefault("customer", {})["email_verified"] = True
    return payload


def test_the_scanner_finds_every_secret_in_every_spacing_it_is_given() -> None:
    # The leak check is only as good as this: it must see each secret in every planted form.
    assert {f.split(":")[0] for f in leaks(EVERYTHING)} == {s.name for s in SECRETS}
    spaced = {f.split(":")[0] for f in leaks(OTHER_SPACINGS)}
    assert spaced >= {"Visa", "Mastercard", "Amex", "DE IBAN", "GB IBAN", "FR VAT"}
    for value in SHORT.values():
        assert leaks(value), value
    assert leaks("4111\u00a01111\u00a01111\u00a01111") and leaks("DE89-3704-0044-0532-0130-00")
    assert not leaks(redact_text(EVERYTHING).text)
    assert not leaks("Slack ts 1764168021.000100, 2026-11-26T08:14:00Z, INV-2026-004511")


# ---- the journey ----------------------------------------------------------------------------


@pytest.fixture
def product_log() -> Iterator[io.StringIO]:
    """The product's own log handler and formatter (``configure_logging``), into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    noisy = ("aiohttp.access", "httpx", "httpcore", "apscheduler.executors.default")
    saved_noisy = {name: logging.getLogger(name).level for name in noisy}
    configure_logging("DEBUG", label="leak-test")
    handler = root.handlers[0]
    buffer = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    # Keep pytest's capture handlers, and let every logger through at DEBUG for caplog as well.
    root.handlers[:] = [*saved_handlers, handler]
    for name in noisy:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved_noisy.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class Journey:
    bot: Harness
    db_file: Path
    call_ids: dict[str, str]
    handoff_ids: dict[str, str]
    slack_acks: list[str]
    db_bytes_while_running: bytes = b""


@pytest.fixture
async def journey(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, product_log: io.StringIO
) -> AsyncIterator[Journey]:
    caplog.set_level(logging.DEBUG)
    async with running_bot(tmp_path, slack_post_rate_per_channel=100) as bot:
        trip = Journey(bot, tmp_path / "bot.db", {}, {}, [])
        await _travel(trip)
        trip.db_bytes_while_running = _sqlite_bytes(trip.db_file)
        yield trip


def _sqlite_bytes(db_file: Path) -> bytes:
    """The SQLite database file and its write-ahead log, as they are on disk now."""
    if backend_name() != "sqlite":
        return b""
    files = [db_file, db_file.with_name(db_file.name + "-wal")]
    return b"\n".join(f.read_bytes() for f in files if f.exists())


def _reason(text: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": text}}
    }


async def _slack(trip: Journey, response: Any) -> None:
    assert response.status == 200, await response.text()
    trip.slack_acks.append(await response.text())


async def _responses(bot: Harness, key: str) -> list[dict[str, Any]]:
    for _ in range(100):
        if bot.slack.responses[key]:
            break
        await asyncio.sleep(0.02)
    assert bot.slack.responses[key], "no answer through the response_url"
    return bot.slack.responses[key]


async def _travel(trip: Journey) -> None:
    bot = trip.bot
    trip.call_ids = {
        "invoice": "dnx_leak_invoice",
        "dispute": "dnx_leak_dispute",
        "refund": "dnx_leak_refund",
    }
    sources = {
        "invoice": "create_invoice",
        "dispute": "duplicate_charge_dispute",
        "refund": "refund_with_bank_details",
    }
    for key, source in sources.items():
        trip.handoff_ids[key] = await bot.accept(planted(source, trip.call_ids[key]))
    # DialNexa retries with the secrets spaced differently: a duplicate, stored nowhere.
    retry = planted("create_invoice", trip.call_ids["invoice"])
    retry["caller_request"] = OTHER_SPACINGS
    assert (await bot.deliver(retry)).status == 200

    # Approve into a Plisio invoice, then Plisio reports it pending and paid.
    invoice_id = trip.handoff_ids["invoice"]
    await _slack(trip, await bot.approve(Demo.APPROVER_1, invoice_id))
    await bot.drain()
    card = await bot.card(invoice_id)
    assert card.status is HandoffStatus.INVOICED and card.invoice and card.invoice.txn_id
    for status in ("pending", "completed"):
        answer = await bot.plisio.set_status(card.invoice.txn_id, status)
        assert answer is not None and answer.status_code == 200, answer
    assert (await bot.card(invoice_id)).status is HandoffStatus.PAID

    # /handoff shows what is known about two of them.
    for key in ("invoice", "dispute"):
        response, url_key = await bot.command(Demo.BILLING_OPS, "/handoff", trip.call_ids[key])
        await _slack(trip, response)
        assert await _responses(bot, url_key)

    # Escalate and reassign the dispute, decline the refund: reasons typed with secrets in them.
    dispute_id, refund_id = trip.handoff_ids["dispute"], trip.handoff_ids["refund"]
    await _slack(trip, await bot.click(Demo.OUTSIDER, ActionId.ESCALATE, dispute_id))
    await _slack(
        trip,
        await bot.submit(
            Demo.OUTSIDER, CallbackId.ESCALATE_MODAL, dispute_id, _reason(TYPED_IN_SLACK)
        ),
    )
    await _slack(trip, await bot.click(Demo.APPROVER_1, ActionId.REASSIGN, dispute_id))
    picked = {
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": Demo.BILLING_OPS}
        },
        BlockId.NOTE.value: {
            InputId.NOTE.value: {"type": "plain_text_input", "value": TYPED_IN_SLACK}
        },
    }
    await _slack(
        trip, await bot.submit(Demo.APPROVER_1, CallbackId.REASSIGN_MODAL, dispute_id, picked)
    )
    await _slack(trip, await bot.click(Demo.APPROVER_1, ActionId.DECLINE, refund_id))
    await _slack(
        trip,
        await bot.submit(
            Demo.APPROVER_1, CallbackId.DECLINE_MODAL, refund_id, _reason(TYPED_IN_SLACK)
        ),
    )
    assert (await bot.card(dispute_id)).owner_slack_id == Demo.BILLING_OPS
    assert (await bot.card(refund_id)).status is HandoffStatus.DECLINED

    # /invoice new: a request typed in Slack, with the secrets in its description.
    await _slack(
        trip,
        await bot.slack_post(
            view_submission(
                user=Demo.BILLING_OPS,
                callback_id=CallbackId.INVOICE_NEW_MODAL,
                private_metadata="",
                values=_invoice_form(
                    f"Card 4111 1111 1111 1111, {EVERYTHING}"[:500], trip.call_ids["invoice"]
                ),
            )
        ),
    )
    await bot.drain()
    # The request links to the invoice's call and lives under its own slack_req: ID.
    async with bot.deps.db.sessions() as session:
        request_call = await session.scalar(
            select(HandoffRow.call_id).where(HandoffRow.kind == "request")
        )
    assert request_call is not None
    trip.call_ids["request"] = request_call
    request = await bot.deps.handoffs.card_by_call(request_call)
    assert request is not None and request.message_ts is not None
    trip.handoff_ids["request"] = request.handoff_id


def _invoice_form(description: str, call_id: str) -> dict[str, Any]:
    def text(field: InvoiceField, value: str) -> dict[str, Any]:
        return {f"{field.value}_input": {"type": "plain_text_input", "value": value}}

    return {
        InvoiceField.EMAIL.value: text(InvoiceField.EMAIL, "dana@example.com"),
        InvoiceField.AMOUNT.value: text(InvoiceField.AMOUNT, "1250.00"),
        InvoiceField.DESCRIPTION.value: text(InvoiceField.DESCRIPTION, description),
        InvoiceField.CALL_ID.value: text(InvoiceField.CALL_ID, call_id),
        InvoiceField.CURRENCY.value: {
            f"{InvoiceField.CURRENCY.value}_input": {
                "type": "static_select",
                "selected_option": {"value": "EUR"},
            }
        },
    }


# ---- where to look --------------------------------------------------------------------------


def _slack_text(bot: Harness, acks: list[str]) -> str:
    calls = [json.dumps(c.args, ensure_ascii=False, default=str) for c in bot.slack.calls]
    answers = [json.dumps(r, ensure_ascii=False) for rs in bot.slack.responses.values() for r in rs]
    return "\n".join([*calls, *answers, *acks])


def _plisio_text(bot: Harness) -> str:
    requests = [json.dumps([r.path, r.params], ensure_ascii=False) for r in bot.plisio.requests]
    invoices = [
        json.dumps([i.order_number, i.order_name, i.description, i.email], ensure_ascii=False)
        for i in bot.plisio.invoices.values()
    ]
    return "\n".join([*requests, *invoices])


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # The journey runs while its fixture is set up: those records belong to the setup phase.
    return [*caplog.get_records("setup"), *caplog.get_records("call")]


def _records_text(records: list[logging.LogRecord]) -> str:
    """Every record as the code wrote it: message, extra fields and any traceback, unscrubbed."""
    plain = logging.Formatter()
    lines: list[str] = []
    for record in records:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        lines.append(f"{record.name} {record.getMessage()} {extras!r}")
        if record.exc_info:
            lines.append(plain.formatException(record.exc_info))
        if record.stack_info:
            lines.append(record.stack_info)
    return "\n".join(lines)


def _assert_no_leaks(where: str, haystack: str) -> None:
    found = leaks(haystack)
    assert not found, f"secrets in {where}:\n" + "\n".join(found)


# ---- the checks ------------------------------------------------------------------------------

ON_SQLITE = pytest.mark.skipif(
    backend_name() != "sqlite", reason="PostgreSQL's files are the server's; its rows are checked"
)


async def test_no_secret_reaches_the_database(journey: Journey) -> None:
    dump = await dump_database(journey.bot.deps.db)
    _assert_no_leaks("the database", dump)
    for secret in SECRETS:  # the payloads were stored, with markers where the secrets were
        assert secret.marker in dump, secret.name
    assert all(call_id in dump for call_id in journey.call_ids.values())


@ON_SQLITE
async def test_no_secret_reaches_the_sqlite_file_or_its_write_ahead_log(journey: Journey) -> None:
    raw = journey.db_bytes_while_running
    assert b"dnx_leak_invoice" in raw and b"[card ending 1111]" in raw
    _assert_no_leaks("the SQLite file or its WAL", raw.decode("latin-1"))


async def test_no_secret_reaches_the_logs(
    journey: Journey, caplog: pytest.LogCaptureFixture, product_log: io.StringIO
) -> None:
    records = _records(caplog)
    text = _records_text(records)
    assert len(records) > 50 and "handoff stored" in text and "Slack" in text
    _assert_no_leaks("log records", text)
    lines = product_log.getvalue()
    assert "[leak-test]" in lines and "handoff stored" in lines
    _assert_no_leaks("formatted log lines", lines)


async def test_no_secret_is_sent_to_slack(journey: Journey) -> None:
    text = _slack_text(journey.bot, journey.slack_acks)
    _assert_no_leaks("requests to Slack", text)
    for secret in SECRETS:  # shown redacted, not left out
        assert secret.marker in text, secret.name
    methods = {c.method for c in journey.bot.slack.calls}
    assert {"chat.postMessage", "chat.update", "views.open", "conversations.open"} <= methods


async def test_what_people_type_in_slack_is_redacted_too(journey: Journey) -> None:
    bot = journey.bot
    refund = await bot.card(journey.handoff_ids["refund"])
    assert refund.decline_reason is not None and "[card ending 1111]" in refund.decline_reason
    notes = " ".join(bot.thread_texts(refund))
    assert "[card ending 1111]" in notes
    dms = [
        json.dumps(c.args["blocks"], ensure_ascii=False)
        for c in bot.slack.calls_to("chat.postMessage")
        if str(c.args.get("text", "")).startswith("You now own")
    ]
    assert dms and "*Note:*" in dms[-1] and "[card ending 1111]" in dms[-1], dms


async def test_no_secret_is_sent_to_plisio(journey: Journey) -> None:
    bot = journey.bot
    text = _plisio_text(bot)
    _assert_no_leaks("requests to Plisio", text)
    card = await bot.card(journey.handoff_ids["invoice"])
    assert card.invoice is not None
    (invoice,) = bot.plisio.invoices_for_order(card.invoice.order_number)
    # The description quotes the planted next step: redacted, not dropped.
    assert invoice.description is not None
    assert any(secret.marker in invoice.description for secret in SECRETS), invoice.description
    assert any(r.path.endswith("/invoices/new") for r in bot.plisio.requests)


@ON_SQLITE
async def test_nothing_is_left_on_disk_after_shutdown(tmp_path: Path) -> None:
    # Run a short journey, shut down (SQLite checkpoints its WAL into the file), read the file.
    async with running_bot(tmp_path) as bot:
        handoff_id = await bot.accept(planted("create_invoice", "dnx_leak_disk"))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
    raw = _sqlite_bytes(tmp_path / "bot.db")
    assert b"dnx_leak_disk" in raw
    _assert_no_leaks("the SQLite file after shutdown", raw.decode("latin-1"))


@pytest.mark.parametrize(
    "text",
    [
        "card 4111  1111  1111  1111",
        "card 4111\u00a01111\u00a01111\u00a01111",
        "card 4111.1111.1111.1111",
        "card 4111 1111 1111 1111/12",
        "IBAN DE89-3704-0044-0532-0130-00",
    ],
    ids=["double-space", "nbsp", "dots", "expiry-glued", "dashed-iban"],
)
def test_secrets_in_other_spacings_are_redacted(text: str) -> None:
    cleaned = redact_text(text).text
    assert not leaks(cleaned)
    assert "removed]" in cleaned or "[card ending" in cleaned
