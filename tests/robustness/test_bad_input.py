"""Hostile input at every edge: the DialNexa webhook, Plisio callbacks and Slack interactions.

Every property sends its input through the real app (one instance for the module) and checks the
same three things: the answer is a 4xx (never a 5xx), an error answer is JSON with an ``error`` and
no Python exception text, and nothing changed (no row anywhere, nothing sent to Slack or Plisio).
A separate property checks the other side: any handoff the schema accepts is stored exactly once.
"""

from __future__ import annotations

import codecs
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from blocks.ids import OPEN_LINK_PATTERN, ActionId, BlockId, CallbackId, InputId
from connectors.plisio import sign_form_callback, sign_json_callback
from sandbox.slack_state import Demo
from services.cards import HandoffCard
from services.db.models import HandoffRow
from services.refunds.policy import round_amount
from services.signing import sign
from tests.robustness.driver import (
    BotDriver,
    Exchange,
    Snapshot,
    driven_bot,
    read,
    snapshot,
    table_names,
)
from tests.robustness.strategies import (
    BAD_FIELD_VALUES,
    TEXT_CHARS,
    invalid_handoffs,
    json_values,
    utc,
    valid_handoffs,
)
from tests.support.examples import example, fresh_call_id
from tests.support.harness import PLISIO_KEY, SLACK_SIGNING_SECRET
from tests.support.routing import make_routing
from tests.support.signing import WEBHOOK_SECRET, signed_headers
from tests.support.slack import block_action, signed_form, view_submission

WEBHOOK = "/dialnexa/handoffs"
CALLBACK = "/plisio/callback"
SLACK = "/slack/events"
LIMIT = 256 * 1024
PLISIO_LIMIT = 64 * 1024

# Each property draws at most this many examples; together the module runs in well under a minute.
SOME = settings(max_examples=120, deadline=None)
MANY = settings(max_examples=200, deadline=None)

# What Python puts in a traceback or an exception's text; none of it belongs in an answer.
PYTHON_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+')
PYTHON_WORDS = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception|Warning)\b|<class '|\bsys\.\w+|recursion depth"
    r"|\(char \d+\)|codec can't|invalid literal for|object has no attribute|not subscriptable"
)


@dataclass
class Seeded:
    """The module's bot, its tables, and records that bad input must not touch."""

    driver: BotDriver
    tables: list[str]
    open_id: str  # a posted, undecided handoff
    open_channel: str
    open_ts: str
    invoiced_id: str  # an approved handoff with a Plisio invoice
    txn_id: str
    order_number: str


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    # A heads-up before deadlines makes intake do date arithmetic on every deadline it stores;
    # the fake Slack sets no rate limit, so posts need not be paced at one a second here.
    routing = make_routing(reminders={"heads_up_before_minutes": 60})
    path = tmp_path_factory.mktemp("bad-input")
    with driven_bot(path, routing=routing, slack_post_rate_per_channel=100) as driver:
        yield driver.run(_seed(driver))


async def _seed(driver: BotDriver) -> Seeded:
    bot = driver.harness
    open_id = await bot.accept(example("duplicate_charge_dispute"))
    invoiced_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, invoiced_id)
    await bot.drain()
    card = await bot.card(invoiced_id)
    assert card.invoice is not None and card.invoice.txn_id is not None
    posted = await bot.card(open_id)
    assert posted.message_ts is not None
    return Seeded(
        driver=driver,
        tables=await table_names(bot.deps.db),
        open_id=open_id,
        open_channel=posted.channel,
        open_ts=posted.message_ts,
        invoiced_id=invoiced_id,
        txn_id=card.invoice.txn_id,
        order_number=card.invoice.order_number,
    )


# ---- sending and checking ------------------------------------------------------------------


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post(
    bot: Seeded,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    chunked: bool = False,
    full: bool = False,
) -> tuple[Snapshot, Exchange, Snapshot]:
    """POST ``body`` as given (no Content-Type unless in ``headers``); state before and after."""
    harness = bot.driver.harness

    async def exchange() -> tuple[Snapshot, Exchange, Snapshot]:
        before = await snapshot(harness, bot.tables, full=full)
        skip = [] if any(k.lower() == "content-type" for k in headers) else ["Content-Type"]
        data: bytes | AsyncIterator[bytes] = _chunks(body, 16 * 1024) if chunked else body
        response = await harness.client.post(
            path, data=data, headers=headers, skip_auto_headers=skip
        )
        answer = await read(response)
        return before, answer, await snapshot(harness, bot.tables, full=full)

    return bot.driver.run(exchange())


def assert_error_answer(answer: Exchange, allowed: set[int]) -> dict[str, Any]:
    """A 4xx from ``allowed``, as JSON with an ``error``, and no Python internals in it."""
    assert answer.status in allowed, (answer.status, answer.text[:400])
    assert 400 <= answer.status < 500
    assert answer.content_type == "application/json", (answer.content_type, answer.text[:200])
    assert not PYTHON_TRACE.search(answer.text), answer.text[:400]
    body = answer.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    # Field names echo the input, so only the bot's own words are checked for exception names.
    words = [body.get("message", "")] + [p.get("reason", "") for p in body.get("fields", [])]
    assert not any(PYTHON_WORDS.search(str(w)) for w in words), body
    return body


def refused(
    bot: Seeded,
    path: str,
    body: bytes,
    headers: dict[str, str],
    allowed: set[int],
    *,
    chunked: bool = False,
) -> dict[str, Any]:
    """Send, then check the answer is a clean 4xx and nothing anywhere changed."""
    before, answer, after = post(bot, path, body, headers, chunked=chunked)
    error = assert_error_answer(answer, allowed)
    assert after == before
    return error


def signed(body: bytes, content_type: str | None = "application/json") -> dict[str, str]:
    headers = signed_headers(body)
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    return headers


def expected_status(body: bytes) -> int:
    """What the contract says a signed application/json body that is no handoff gets."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(body.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):  # not UTF-8 (a ValueError too), not JSON, NaN
        return 400
    return 400 if _depth(value) > 32 else 422


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


# ---- DialNexa: arbitrary bodies, headers and encodings -------------------------------------

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "multipart/form-data; boundary=x",
        "application/problem+json",
        "text/json",
        "",
    ]
)


def is_json_media(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


@given(body=st.binary(max_size=4096), content_type=CONTENT_TYPES)
@MANY
def test_signed_random_bytes_are_refused(bot: Seeded, body: bytes, content_type: str) -> None:
    status = expected_status(body) if is_json_media(content_type) else 415
    refused(bot, WEBHOOK, body, signed(body, content_type), {status})


HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("²١٠éß\u00a0"),
    max_size=80,
)


@given(
    body=st.binary(max_size=1024) | json_values().map(lambda v: json.dumps(v).encode()),
    timestamp=st.none() | HEADER_VALUES | st.integers(0, 2**40).map(str),
    signature=st.none() | HEADER_VALUES | st.from_regex(r"v1=[0-9a-f]{64}", fullmatch=True),
    extra=st.dictionaries(
        st.sampled_from(["Content-Type", "X-Forwarded-For", "X-Slack-Signature", "Accept"]),
        HEADER_VALUES,
        max_size=3,
    ),
)
@MANY
def test_unsigned_or_forged_deliveries_are_401(
    bot: Seeded, body: bytes, timestamp: str | None, signature: str | None, extra: dict[str, str]
) -> None:
    headers = dict(extra)
    if timestamp is not None:
        headers["X-DialNexa-Timestamp"] = timestamp
    if signature is not None:
        headers["X-DialNexa-Signature"] = signature
    error = refused(bot, WEBHOOK, body, headers, {401})
    assert error["error"] == "invalid_signature"


@given(value=json_values())
@SOME
def test_signed_random_json_is_422(bot: Seeded, value: Any) -> None:
    body = json.dumps(value).encode()
    error = refused(bot, WEBHOOK, body, signed(body), {422})
    assert error["error"] == "invalid_handoff"


@given(broken=invalid_handoffs(), ascii_only=st.booleans())
@MANY
def test_handoffs_the_schema_refuses_are_422(
    bot: Seeded, broken: tuple[dict[str, Any], str], ascii_only: bool
) -> None:
    payload, how = broken
    body = json.dumps(payload, ensure_ascii=ascii_only).encode()
    error = refused(bot, WEBHOOK, body, signed(body), {422})
    assert error["error"] == "invalid_handoff", how
    assert error["fields"], how


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    payload = example("create_invoice")
    target = payload
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value"),
    [(path, value) for path, value, _ in BAD_FIELD_VALUES],
    ids=[f"{'.'.join(path)}:{why}" for path, _, why in BAD_FIELD_VALUES],
)
def test_each_refused_value_is_422_naming_its_field(
    bot: Seeded, path: tuple[str, ...], value: Any
) -> None:
    body = json.dumps(_with(path, value)).encode()
    error = refused(bot, WEBHOOK, body, signed(body), {422})
    name = ".".join(path)
    fields = [p["field"] for p in error["fields"]]
    assert any(f == name or f.startswith((f"{name}[", f"{name}.")) for f in fields), error


def _padded(size: int) -> bytes:
    """A valid handoff padded with JSON whitespace to exactly ``size`` bytes."""
    payload = example("billing_question_minimal", call_id=fresh_call_id("dnx_pad"))
    body = json.dumps(payload).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("size", [LIMIT + 1, 1024 * 1024, 3 * 1024 * 1024])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("signature", [True, False], ids=["signed", "unsigned"])
def test_oversized_bodies_are_413(bot: Seeded, size: int, chunked: bool, signature: bool) -> None:
    body = _padded(size)
    headers = signed(body) if signature else {"Content-Type": "application/json"}
    error = refused(bot, WEBHOOK, body, headers, {413}, chunked=chunked)
    assert error["error"] == "payload_too_large"


@pytest.mark.parametrize("size", [64 * 1024, LIMIT - 1, LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_bodies_up_to_the_limit_are_read_whole(bot: Seeded, size: int, chunked: bool) -> None:
    # The signature covers every byte: reading only part of a body would refuse it as forged.
    body = _padded(size)
    before, answer, after = post(bot, WEBHOOK, body, signed(body), chunked=chunked)
    assert answer.status == 202, answer.text
    assert _count(after, "handoffs") == _count(before, "handoffs") + 1


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 33 + b"]" * 33,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        json.dumps(_with(("agent", "name"), json.loads("[" * 40 + "]" * 40))).encode(),
        b"[" * 200_000,  # deep and unterminated
    ],
    ids=["33-lists", "100k-lists", "40-objects", "deep-inside-a-handoff", "unterminated"],
)
def test_deep_nesting_is_400(bot: Seeded, body: bytes) -> None:
    error = refused(bot, WEBHOOK, body, signed(body), {400})
    assert error["error"] == "invalid_json"


def test_nesting_up_to_the_limit_is_a_schema_problem_not_a_parse_error(bot: Seeded) -> None:
    nested = json.loads("[" * 30 + "]" * 30)  # 32 levels with the handoff and its "agent"
    body = json.dumps(_with(("agent", "name"), nested)).encode()
    assert refused(bot, WEBHOOK, body, signed(body), {422})["fields"]


ENCODED = json.dumps(
    example("vat_correction", caller_request="Facture corrigée — merci"), ensure_ascii=False
).encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"caller_request": "\xff\xfe"}', "application/json"),
        (b"\xc3\x28", "application/json"),
        (b'{"a": "\xed\xa0\x80"}', "application/json"),  # an encoded surrogate
        (codecs.BOM_UTF8 + ENCODED, "application/json"),
        (codecs.BOM_UTF8 + ENCODED, "application/json; charset=utf-8"),
        (ENCODED.decode().encode("utf-16"), "application/json"),
        (ENCODED.decode().encode("utf-16"), "application/json; charset=utf-16"),
        (ENCODED.decode().encode("utf-16-le"), "application/json"),
        (ENCODED.decode().encode("utf-32"), "application/json; charset=utf-32"),
        (ENCODED.decode().encode("latin-1", "replace"), "application/json; charset=latin-1"),
        (b'{"caller_request": NaN}', "application/json"),
        (b'{"match_confidence": Infinity}', "application/json"),
        (b'{"a": 1' + b"1" * 5000 + b"}", "application/json"),  # an int too long to convert
        (b"", "application/json"),
    ],
    ids=[
        "invalid-utf8",
        "invalid-utf8-pair",
        "encoded-surrogate",
        "utf8-bom",
        "utf8-bom-charset",
        "utf16-bom",
        "utf16-charset",
        "utf16-le",
        "utf32",
        "latin1",
        "nan",
        "infinity",
        "huge-int",
        "empty",
    ],
)
def test_bodies_that_are_not_utf8_json_are_400(bot: Seeded, body: bytes, content_type: str) -> None:
    error = refused(bot, WEBHOOK, body, signed(body, content_type), {400})
    assert error["error"] == "invalid_json"


def test_escaped_lone_surrogates_are_refused(bot: Seeded) -> None:
    body = json.dumps(example("create_invoice", caller_request="\ud800 card")).encode()
    refused(bot, WEBHOOK, body, signed(body), {400, 422})


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "application/problem+json",
        "application/jsonp",
        "application/json-seq",
        "application/octet-stream",
        ";",
    ],
)
def test_wrong_or_missing_content_type_is_415(bot: Seeded, content_type: str | None) -> None:
    body = json.dumps(example("create_invoice", call_id=fresh_call_id("ct"))).encode()
    error = refused(bot, WEBHOOK, body, signed(body, content_type), {415})
    assert error["error"] == "unsupported_media_type"


def _signature_cases() -> list[tuple[str, dict[str, str]]]:
    body = json.dumps(example("create_invoice", call_id="dnx_sig_case")).encode()
    now = int(time.time())
    good = sign(WEBHOOK_SECRET, now, body)
    arabic_now = str(now).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    base = {"Content-Type": "application/json"}
    ts = {"X-DialNexa-Timestamp": str(now)}

    def sig(value: str) -> dict[str, str]:
        return {"X-DialNexa-Signature": value}

    return [
        ("missing both", base),
        ("missing timestamp", base | sig(good)),
        ("missing signature", base | ts),
        ("empty signature", base | ts | sig("")),
        ("wrong secret", base | ts | sig(sign("not-the-secret", now, body))),
        (
            "stale",
            base
            | {"X-DialNexa-Timestamp": str(now - 301)}
            | sig(sign(WEBHOOK_SECRET, now - 301, body)),
        ),
        (
            "future",
            base
            | {"X-DialNexa-Timestamp": str(now + 301)}
            | sig(sign(WEBHOOK_SECRET, now + 301, body)),
        ),
        ("non-hex", base | ts | sig("v1=" + "z" * 64)),
        ("no version prefix", base | ts | sig(good.removeprefix("v1="))),
        ("other version", base | ts | sig("v0=" + good.removeprefix("v1="))),
        ("upper-case hex", base | ts | sig(good.upper().replace("V1=", "v1="))),
        ("truncated", base | ts | sig(good[:-2])),
        ("two signatures", base | ts | sig(f"{good},{good}")),
        ("different body", base | ts | sig(sign(WEBHOOK_SECRET, now, body + b" "))),
        ("timestamp off by one", base | {"X-DialNexa-Timestamp": str(now + 1)} | sig(good)),
        ("timestamp not a number", base | {"X-DialNexa-Timestamp": "yesterday"} | sig(good)),
        ("timestamp negative", base | {"X-DialNexa-Timestamp": "-5"} | sig(good)),
        ("timestamp with decimals", base | {"X-DialNexa-Timestamp": f"{now}.0"} | sig(good)),
        ("timestamp huge", base | {"X-DialNexa-Timestamp": "9" * 40} | sig(good)),
        ("timestamp superscript", base | {"X-DialNexa-Timestamp": "²"} | sig(good)),
        ("timestamp Arabic digits", base | {"X-DialNexa-Timestamp": arabic_now} | sig(good)),
        ("non-ASCII signature", base | ts | sig("v1=é" + good[4:])),
    ]


@pytest.mark.parametrize("case", [name for name, _ in _signature_cases()])
def test_bad_signatures_are_401(bot: Seeded, case: str) -> None:
    # Built now, not at import: "stale" and "future" are relative to the moment of sending.
    headers = dict(_signature_cases())[case]
    body = json.dumps(example("create_invoice", call_id="dnx_sig_case")).encode()
    error = refused(bot, WEBHOOK, body, headers, {401})
    assert error["error"] == "invalid_signature"


# ---- Plisio callbacks ----------------------------------------------------------------------

CALLBACK_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=b",
        "application/octet-stream",
    ]
)


def callback_fields(bot: Seeded, **changes: str) -> dict[str, str]:
    fields = {
        "txn_id": bot.txn_id,
        "ipn_type": "invoice",
        "merchant": "Sandbox shop",
        "merchant_id": "5d09fcd84f1e66138d706ed8",
        "order_number": bot.order_number,
        "order_name": "Create invoice dnx_call_INV2041",
        "amount": "4200.000000",
        "currency": "USDT",
        "source_amount": "4200.00",
        "source_currency": "USD",
        "source_rate": "1.000000",
        "confirmations": "3",
        "status": "completed",
        "comment": "",
    }
    fields.update(changes)
    return fields


def _callback_headers(content_type: str | None) -> dict[str, str]:
    return {} if content_type is None else {"Content-Type": content_type}


def plisio_expected(raw: bytes, content_type: str | None, json_query: bool) -> set[int]:
    media = (content_type or "").split(";")[0].strip().lower()
    form = "application/x-www-form-urlencoded"
    if media == "application/json" or (json_query and media != form):
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            return {400}
        return {401} if isinstance(data, dict) else {422}
    if media == form:
        return {400, 401}  # not UTF-8, or no valid verify_hash
    return {415}


@given(
    raw=st.binary(max_size=2048),
    content_type=CALLBACK_TYPES,
    json_query=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["X-Plisio-Signature", "X-Forwarded-For", "Accept", "User-Agent"]),
        HEADER_VALUES,
        max_size=3,
    ),
)
@MANY
def test_callback_random_bytes_are_refused(
    bot: Seeded, raw: bytes, content_type: str | None, json_query: bool, extra: dict[str, str]
) -> None:
    path = CALLBACK + ("?json=true" if json_query else "")
    headers = extra | _callback_headers(content_type)
    refused(bot, path, raw, headers, plisio_expected(raw, content_type, json_query))


@given(
    value=json_values()
    | st.dictionaries(
        st.sampled_from(["txn_id", "status", "verify_hash", "amount"]), st.text(max_size=40)
    ),
    json_query=st.booleans(),
)
@MANY
def test_callback_random_json_without_a_valid_hash_is_refused(
    bot: Seeded, value: Any, json_query: bool
) -> None:
    raw = json.dumps(value).encode()
    path = CALLBACK + ("?json=true" if json_query else "")
    allowed = {401} if isinstance(value, dict) else {422}
    refused(bot, path, raw, {"Content-Type": "application/json"}, allowed)


@given(
    fields=st.dictionaries(
        st.sampled_from(["txn_id", "status", "order_number", "amount", "verify_hash"])
        | st.text(TEXT_CHARS, max_size=10),
        st.text(TEXT_CHARS, max_size=60),
        max_size=8,
    ),
    real_txn=st.booleans(),
)
@MANY
def test_callback_random_forms_without_a_valid_hash_are_401(
    bot: Seeded, fields: dict[str, str], real_txn: bool
) -> None:
    if real_txn:  # aim at the real invoice: a forged "completed" must not mark it paid
        fields = {**callback_fields(bot), **fields}
    raw = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    refused(bot, CALLBACK, raw, headers, {401})


FORGERIES = [
    "no hash",
    "empty hash",
    "wrong key",
    "tampered amount",
    "tampered status",
    "hash of the form reading",
    "hash as a number",
    "hash as a list",
    "hash as null",
    "non-ASCII hash",
    "lone surrogate hash",
]


def _forged(bot: Seeded, name: str) -> dict[str, Any]:
    fields: dict[str, Any] = callback_fields(bot)
    good = sign_json_callback(fields, PLISIO_KEY)
    hashes: dict[str, Any] = {
        "empty hash": "",
        "wrong key": sign_json_callback(fields, "wrong-key"),
        "tampered amount": good,
        "tampered status": good,
        "hash of the form reading": sign_form_callback(fields, PLISIO_KEY),
        "hash as a number": 12345,
        "hash as a list": [good],
        "hash as null": None,
        "non-ASCII hash": "é" * 40,
        "lone surrogate hash": "\ud800",
    }
    if name == "tampered amount":
        fields["amount"] = "1.00"
    if name == "tampered status":
        fields["status"] = "cancelled"
    return fields if name == "no hash" else {**fields, "verify_hash": hashes[name]}


@pytest.mark.parametrize("name", FORGERIES)
def test_forged_json_callbacks_are_refused(bot: Seeded, name: str) -> None:
    raw = json.dumps(_forged(bot, name)).encode()
    allowed = {400, 401} if name == "lone surrogate hash" else {401}
    refused(bot, CALLBACK + "?json=true", raw, {"Content-Type": "application/json"}, allowed)


# Form fields are strings, and the form reading's hash is the right one for a form body.
FORM_FORGERIES = [
    n for n in FORGERIES if "hash as" not in n and "surrogate" not in n and "form" not in n
]


@pytest.mark.parametrize("name", FORM_FORGERIES)
def test_forged_form_callbacks_are_401(bot: Seeded, name: str) -> None:
    raw = urlencode(_forged(bot, name)).encode()
    refused(bot, CALLBACK, raw, {"Content-Type": "application/x-www-form-urlencoded"}, {401})


# Signed correctly, but no callback Plisio could send: each must be refused and change nothing.
SIGNED_BUT_INVALID: list[tuple[str, dict[str, Any]]] = [
    ("no txn_id", {"txn_id": None}),
    ("no status", {"status": None}),
    ("amount is words", {"amount": "four thousand"}),
    ("amount is infinite", {"amount": "Infinity"}),
    ("amount is NaN", {"amount": "NaN"}),
    ("confirmations is words", {"confirmations": "three"}),
    ("expire_utc is words", {"expire_utc": "next week"}),
    ("expire_utc far beyond year 9999", {"expire_utc": "1e300"}),
    ("expire_utc infinite", {"expire_utc": "inf"}),
    ("expire_utc before year 1 in UTC", {"expire_utc": "0001-01-01T00:00:00+01:00"}),
    ("txn_id holds NUL", {"txn_id": "abc\x00"}),
    ("status holds NUL", {"status": "completed\x00"}),
    ("order_number holds NUL", {"order_number": "\x00"}),
]


@pytest.mark.parametrize(
    "changes", [c for _, c in SIGNED_BUT_INVALID], ids=[n for n, _ in SIGNED_BUT_INVALID]
)
@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
def test_signed_callbacks_with_bad_fields_are_refused(
    bot: Seeded, changes: dict[str, Any], as_form: bool
) -> None:
    fields = {k: v for k, v in (callback_fields(bot) | changes).items() if v is not None}
    if as_form:
        raw = urlencode({**fields, "verify_hash": sign_form_callback(fields, PLISIO_KEY)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        refused(bot, CALLBACK, raw, headers, {400, 422})
    else:
        raw = json.dumps({**fields, "verify_hash": sign_json_callback(fields, PLISIO_KEY)}).encode()
        refused(bot, CALLBACK + "?json=true", raw, {"Content-Type": "application/json"}, {400, 422})


@given(
    field=st.sampled_from(["txn_id", "amount", "confirmations", "expire_utc", "source_rate"]),
    value=st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3)
    | st.sampled_from(["", "NaN", "-Infinity", "1e999999", "9" * 5000, "\x00", "0x1F", "١٢"])
    | st.text(TEXT_CHARS, max_size=30),
    drop=st.sampled_from([None, "txn_id", "status"]),
)
@SOME
def test_signed_json_callbacks_with_garbage_fields_never_fail_hard(
    bot: Seeded, field: str, value: Any, drop: str | None
) -> None:
    # "new" is the invoice's own status, so a callback that parses changes nothing either.
    fields: dict[str, Any] = {**callback_fields(bot, status="new"), field: value}
    fields.pop(drop or "", None)
    raw = json.dumps({**fields, "verify_hash": sign_json_callback(fields, PLISIO_KEY)}).encode()
    before, answer, after = post(
        bot, CALLBACK + "?json=true", raw, {"Content-Type": "application/json"}, full=True
    )
    assert answer.status < 500, answer.text[:400]
    if answer.status == 200:
        assert answer.json()["outcome"] == "unchanged", answer.text
    else:
        assert_error_answer(answer, {400, 422})
    assert after == before


def test_callback_lone_surrogates_are_400(bot: Seeded) -> None:
    for raw in (b'{"verify_hash": "\\ud800", "txn_id": "x", "status": "new"}', b'{"\\udc00": "1"}'):
        error = refused(
            bot, CALLBACK + "?json=true", raw, {"Content-Type": "application/json"}, {400}
        )
        assert error["error"] == "invalid_callback"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_callback_is_413(bot: Seeded, chunked: bool) -> None:
    fields = callback_fields(bot, comment="x" * PLISIO_LIMIT)
    raw = json.dumps({**fields, "verify_hash": sign_json_callback(fields, PLISIO_KEY)}).encode()
    refused(
        bot,
        CALLBACK + "?json=true",
        raw,
        {"Content-Type": "application/json"},
        {413},
        chunked=chunked,
    )


# ---- Slack ---------------------------------------------------------------------------------

KNOWN_ACTIONS = [a.value for a in ActionId]
SLACK_IDS = st.from_regex(r"[UWBC][A-Z0-9]{2,11}", fullmatch=True) | st.text(
    TEXT_CHARS, max_size=20
)
# What a refused click may still do in Slack: tell the clicker, privately, why nothing happened.
QUIET_METHODS = {"chat.postEphemeral", "users.info", "usergroups.users.list"}


def slack_exchange(
    bot: Seeded, body: bytes, headers: dict[str, str]
) -> tuple[Snapshot, Exchange, Snapshot]:
    return post(bot, SLACK, body, headers, full=True)


def click(bot: Seeded, user: str, action_id: str, value: str) -> dict[str, str]:
    return block_action(
        user=user,
        action_id=action_id,
        value=value,
        channel=bot.open_channel,
        message_ts=bot.open_ts,
        selected=action_id == ActionId.SNOOZE,
    )


@given(
    user=st.sampled_from([Demo.APPROVER_1, Demo.APPROVER_2, Demo.FIN_LEAD]) | SLACK_IDS,
    action_id=st.sampled_from(KNOWN_ACTIONS) | st.text(TEXT_CHARS, max_size=30),
    forgery=st.sampled_from(["wrong secret", "no signature", "stale", "future", "unsigned body"]),
)
@SOME
def test_forged_slack_clicks_are_401_and_change_nothing(
    bot: Seeded, user: str, action_id: str, forgery: str
) -> None:
    fields = click(bot, user, action_id, bot.open_id)
    now = time.time()
    secret, at = SLACK_SIGNING_SECRET, now
    if forgery == "wrong secret":
        secret = "not-the-signing-secret"
    elif forgery == "stale":
        at = now - 6 * 60
    elif forgery == "future":
        at = now + 6 * 60
    body, headers = signed_form(fields, secret, at=at)
    if forgery == "no signature":
        del headers["X-Slack-Signature"]
    elif forgery == "unsigned body":
        _, headers = signed_form({"payload": "{}"}, SLACK_SIGNING_SECRET)
    before, answer, after = slack_exchange(bot, body, headers)
    assert answer.status == 401, answer.text[:300]
    assert after == before


@given(
    user=st.sampled_from([Demo.APPROVER_1, Demo.OUTSIDER]) | SLACK_IDS,
    action_id=st.text(TEXT_CHARS, max_size=40).filter(
        lambda a: a not in KNOWN_ACTIONS and not OPEN_LINK_PATTERN.match(a)
    ),
)
@SOME
def test_signed_clicks_with_unknown_action_ids_change_nothing(
    bot: Seeded, user: str, action_id: str
) -> None:
    body, headers = signed_form(click(bot, user, action_id, bot.open_id), SLACK_SIGNING_SECRET)
    before, answer, after = slack_exchange(bot, body, headers)
    assert 400 <= answer.status < 500, (answer.status, answer.text[:300])
    assert after == before


@given(
    user=st.sampled_from([Demo.APPROVER_1, Demo.APPROVER_2, Demo.OUTSIDER]),
    action_id=st.sampled_from([a for a in KNOWN_ACTIONS if a != ActionId.OPEN_LINK]),
    value=st.text(TEXT_CHARS, max_size=80)
    | st.from_regex(r"[A-Za-z0-9_-]{1,64}(:(1h|4h|tomorrow|[a-z]{0,5}))?", fullmatch=True),
)
@SOME
def test_signed_clicks_with_garbage_values_do_not_fail_and_change_nothing(
    bot: Seeded, user: str, action_id: str, value: str
) -> None:
    body, headers = signed_form(click(bot, user, action_id, value), SLACK_SIGNING_SECRET)
    before, answer, after = slack_exchange(bot, body, headers)
    assert answer.status < 500, (answer.status, answer.text[:300])
    assert after.rows == before.rows
    sent = bot.driver.harness.slack.calls[before.slack_calls :]
    assert {c.method for c in sent} <= QUIET_METHODS, [c.method for c in sent]
    assert after.plisio_requests == before.plisio_requests


def _modal_values() -> dict[str, dict[str, Any]]:
    return {
        BlockId.REASON.value: {
            InputId.REASON.value: {"type": "plain_text_input", "value": "a real reason"}
        },
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": Demo.BILLING_OPS}
        },
        BlockId.IDENTITY.value: {
            InputId.IDENTITY.value: {
                "type": "checkboxes",
                "selected_options": [{"value": "identity_confirmed"}],
            }
        },
    }


@given(
    callback=st.sampled_from(
        [c.value for c in CallbackId if c is not CallbackId.INVOICE_NEW_MODAL]
    ),
    metadata=st.text(TEXT_CHARS, max_size=120)
    | json_values().map(json.dumps)
    | st.fixed_dictionaries(
        {"handoff_id": st.text(TEXT_CHARS, max_size=70)},
        optional={"channel": st.text(max_size=10), "surprise": st.integers()},
    ).map(json.dumps),
)
@SOME
def test_signed_modal_submissions_with_garbage_metadata_change_nothing(
    bot: Seeded, callback: str, metadata: str
) -> None:
    fields = view_submission(
        user=Demo.APPROVER_1,
        callback_id=callback,
        private_metadata=metadata,
        values=_modal_values(),
    )
    body, headers = signed_form(fields, SLACK_SIGNING_SECRET)
    before, answer, after = slack_exchange(bot, body, headers)
    assert answer.status < 500, (answer.status, answer.text[:300])
    assert after.rows == before.rows
    sent = bot.driver.harness.slack.calls[before.slack_calls :]
    assert {c.method for c in sent} <= QUIET_METHODS | {"conversations.open", "chat.postMessage"}
    # A DM may explain the refusal; nothing may be posted in or about the handoff's channel.
    assert all(
        c.args.get("channel") != Demo.DISPUTES for c in sent if c.method == "chat.postMessage"
    )
    assert after.plisio_requests == before.plisio_requests


# ---- DialNexa: what the schema accepts is accepted, once (last: it fills the tables) -----------------------------------


def _count(snap: Snapshot, table: str) -> int:
    value = snap.rows[table]
    assert isinstance(value, int)
    return value


@given(
    handoff=valid_handoffs(),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 0, 2]),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "Application/JSON"]
    ),
)
@SOME
def test_any_handoff_the_schema_accepts_is_stored_exactly_once(
    bot: Seeded,
    handoff: dict[str, Any],
    ascii_only: bool,
    indent: int | None,
    content_type: str,
) -> None:
    call_id = f"{handoff['call_id']}.{uuid.uuid4().hex[:12]}"
    handoff = {**handoff, "call_id": call_id}
    body = json.dumps(handoff, ensure_ascii=ascii_only, indent=indent).encode()
    harness = bot.driver.harness

    async def deliver_twice_then_post() -> Delivered:
        before = await snapshot(harness, bot.tables)
        first = await read(
            await harness.client.post(WEBHOOK, data=body, headers=signed(body, content_type))
        )
        again = await read(
            await harness.client.post(WEBHOOK, data=body, headers=signed(body, content_type))
        )
        after = await snapshot(harness, bot.tables)
        async with harness.deps.db.sessions() as session:
            row = await session.scalar(select(HandoffRow).where(HandoffRow.call_id == call_id))
        await harness.drain()  # and the card must post, whatever the text holds
        card = await harness.deps.handoffs.card(row.id) if row is not None else None
        return Delivered(before, first, again, after, row, card)

    got = bot.driver.run(deliver_twice_then_post())
    assert got.first.status == 202, got.first.text[:1000]
    handoff_id = got.first.json()["handoff_id"]
    assert got.again.status == 200, got.again.text[:500]
    assert got.again.json() == {"handoff_id": handoff_id, "status": "accepted", "duplicate": True}
    row = got.row
    assert row is not None and row.id == handoff_id
    # A refund of some money also gets its one refund record (services/refunds), nothing else.
    refund = (
        row.workflow == "refund"
        and row.amount is not None
        and bool(row.currency)
        and round_amount(abs(row.amount), str(row.currency)) != 0
    )
    once = {"handoffs", "outbox", "audit_log"} | ({"refunds"} if refund else set())
    grew = {t: _count(got.after, t) - _count(got.before, t) for t in bot.tables}
    assert grew == {t: (1 if t in once else 0) for t in bot.tables}
    assert got.after.slack_calls == got.before.slack_calls  # posting waits for the outbox worker
    assert row.occurred_at == utc(handoff["occurred_at"])
    billing = handoff.get("billing", {})
    assert row.amount == (Decimal(billing["amount"]) if "amount" in billing else None)
    assert row.currency == billing.get("currency")
    if "workflow" in handoff:
        assert row.workflow == handoff["workflow"]
    assert got.card is not None and got.card.message_ts is not None, "the handoff was not posted"


@dataclass
class Delivered:
    before: Snapshot
    first: Exchange
    again: Exchange
    after: Snapshot
    row: HandoffRow | None
    card: HandoffCard | None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("occurred_at",), "0001-01-01T00:00:00Z"),
        (("occurred_at",), "9999-12-31T23:59:59.999999Z"),
        (("occurred_at",), "0001-01-01T23:59:59-23:59"),
        (("follow_up", "deadline"), "0001-01-01T00:30:00Z"),  # within the heads-up of year 1
        (("follow_up", "deadline"), "9999-12-31T23:59:59Z"),
        (("billing", "due_date"), "0001-01-01"),
        (("billing", "due_date"), "9999-12-31"),
        (("billing", "amount"), "-999999999999.99999999"),
        (("billing", "amount"), "999999999999.99999999"),
        (("match_confidence",), 0),
    ],
    ids=lambda v: v if isinstance(v, str) else ".".join(v) if isinstance(v, tuple) else repr(v),
)
def test_extreme_values_the_schema_accepts_are_accepted_and_posted(
    bot: Seeded, path: tuple[str, ...], value: Any
) -> None:
    payload = _with(path, value) | {"call_id": fresh_call_id("dnx_edge")}
    if path == ("billing", "amount") and value.startswith("-"):
        payload["workflow"] = "refund"  # invoice workflows need an amount above zero
    body = json.dumps(payload).encode()
    harness = bot.driver.harness

    async def deliver_and_post() -> tuple[Exchange, HandoffCard | None]:
        answer = await read(await harness.client.post(WEBHOOK, data=body, headers=signed(body)))
        await harness.drain()
        if answer.status != 202:
            return answer, None
        return answer, await harness.deps.handoffs.card(answer.json()["handoff_id"])

    answer, card = bot.driver.run(deliver_and_post())
    assert answer.status == 202, answer.text
    assert card is not None and card.message_ts is not None


def test_the_seeded_records_are_untouched_after_all_of_the_above(bot: Seeded) -> None:
    harness = bot.driver.harness
    open_card = bot.driver.run(harness.card(bot.open_id))
    invoiced = bot.driver.run(harness.card(bot.invoiced_id))
    assert open_card.status.value == "open" and open_card.approvals == ()
    assert invoiced.status.value == "invoiced"
    assert invoiced.invoice is not None and not invoiced.invoice.paid
    assert len(harness.plisio.invoices_for_order(bot.order_number)) == 1
