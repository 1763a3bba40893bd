"""Hypothesis strategies for DialNexa handoffs: schema-valid ones, and ones the schema refuses.

``valid_handoffs`` follows the contract's schema field by field (required fields, patterns,
length limits, formats, enums), so every value it draws must be accepted. ``invalid_handoffs``
starts from a valid one and breaks it in exactly one way the schema refuses.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from services.handoff_model import (
    ACCEPTED_CURRENCIES,
    AffectedRecord,
    Agent,
    Billing,
    Customer,
    FollowUp,
    Handoff,
    Links,
    PaymentStatus,
    Sensitive,
    SensitiveCategory,
    Urgency,
    Workflow,
    money_problems,
)

__all__ = [
    "BAD_FIELD_VALUES",
    "JSON_LEAF",
    "invalid_handoffs",
    "json_values",
    "valid_handoffs",
]

Json = dict[str, Any]

# Any character the schema's "string" allows that PostgreSQL can also store: not U+0000, and no
# lone surrogates (which are not Unicode scalar values, so not valid in UTF-8 JSON).
TEXT_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TEXT_CHARS, max_size=20)
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Arbitrary JSON documents (bounded)."""
    return st.recursive(
        JSON_LEAF,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(TEXT_CHARS, max_size=12), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def text(max_size: int, *, min_size: int = 0) -> st.SearchStrategy[str]:
    """Schema strings up to ``max_size`` characters, now and then exactly at the limit."""
    at_limit = st.sampled_from(["x", "é", "😀", " ", "7"]).map(lambda c: c * max_size)
    return st.text(TEXT_CHARS, min_size=min_size, max_size=min(max_size, 60)) | at_limit


# Offsets in whole minutes up to ±23:59, as RFC 3339 allows.
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Years 2..9998: every such instant, at any offset, is still a representable UTC datetime.
AWARE = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS
)


def rfc3339(value: datetime) -> str:
    """``value`` as RFC 3339, with a ``Z`` for UTC some of the time."""
    written = value.isoformat()
    return written.removesuffix("+00:00") + "Z" if written.endswith("+00:00") else written


DATETIMES = AWARE.map(rfc3339)
DATES = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)
EMAILS = st.from_regex(
    r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8})?(\+[a-z0-9]{1,6})?@[a-z0-9]{1,15}(-[a-z0-9]{1,6})?"
    r"\.(com|org|net|io|de|example)",
    fullmatch=True,
)
URLS = st.from_regex(
    r"https?://[a-z0-9]{1,12}\.(example|com|org)(:[1-9][0-9]{1,3})?(/[A-Za-z0-9._~-]{0,12}){0,4}"
    r"(\?[a-z]{1,6}=[A-Za-z0-9]{0,8})?",
    fullmatch=True,
)
# Less the prefix intake keeps for requests made in Slack (services.requests.REQUEST_ID_PREFIX).
CALL_IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,100}", fullmatch=True).filter(
    lambda call_id: not call_id.startswith("slack_req:")
)
AMOUNTS = st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,8})?", fullmatch=True)
THRESHOLDS = st.from_regex(r"[0-9]{1,12}(\.[0-9]{1,8})?", fullmatch=True)
# ISO 4217 or a Plisio cryptocurrency: the pattern alone also lets "ZZZ" through, which is refused.
CURRENCIES = st.sampled_from(["USD", "EUR", "GBP", "JPY"]) | st.sampled_from(
    sorted(ACCEPTED_CURRENCIES)
)
TAX_REGIONS = st.from_regex(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", fullmatch=True)
SLACK_USERS = st.from_regex(r"[UW][A-Z0-9]{2,12}", fullmatch=True)


def _section(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Json]:
    """An object holding any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


AGENT = _section({"id": text(128), "name": text(200)})
CUSTOMER = _section(
    {
        "name": text(200),
        "account_id": text(128),
        "email": EMAILS,
        "email_verified": st.booleans(),
        "phone": text(32),
        "tax_region": TAX_REGIONS,
        "vip": st.booleans(),
    }
)
BILLING = _section(
    {
        "invoice_number": text(128),
        "payment_id": text(128),
        "subscription_id": text(128),
        "amount": AMOUNTS,
        "currency": CURRENCIES,
        "due_date": DATES,
        "payment_status": st.sampled_from([s.value for s in PaymentStatus]),
        "refund_reason": text(1000),
        "dispute_reason": text(1000),
        "credit_request": text(1000),
    }
)
FOLLOW_UP = _section(
    {
        "finance_owner": text(254) | EMAILS | SLACK_USERS,
        "approval_threshold": THRESHOLDS,
        "escalation_reason": text(1000),
        "next_step": text(1000),
        "deadline": DATETIMES,
    }
)
AFFECTED = _section(
    {"system": text(64), "object": text(64), "id": text(128), "url": URLS},
)
LINKS = _section(
    {
        name: URLS
        for name in (
            "transcript_url",
            "recording_url",
            "crm_url",
            "support_ticket_url",
            "payment_platform_url",
        )
    }
)
SENSITIVE = _section(
    {
        "suppress": st.booleans(),
        "categories": st.lists(
            st.sampled_from([c.value for c in SensitiveCategory]), unique=True, max_size=4
        ),
    }
)


def _billable(handoff: Json) -> Json:
    """An invoice workflow (named or inferred) needs an amount above zero; others keep theirs."""
    billing = handoff.get("billing")
    if (
        billing
        and "amount" in billing
        and money_problems(Handoff.model_validate_json(json.dumps(handoff)))
    ):
        billing["amount"] = "1"
    return handoff


def valid_handoffs() -> st.SearchStrategy[Json]:
    """Handoffs the contract's schema accepts (the call ID is only unique per draw)."""
    return _valid_drafts().map(_billable)


def _valid_drafts() -> st.SearchStrategy[Json]:
    return st.fixed_dictionaries(
        {
            "schema_version": st.just("1"),
            "call_id": CALL_IDS,
            "occurred_at": DATETIMES,
            "caller_request": text(2000, min_size=1),
        },
        optional={
            "agent": AGENT,
            "workflow": st.sampled_from([w.value for w in Workflow]),
            "urgency": st.sampled_from([u.value for u in Urgency]),
            "match_confidence": st.floats(min_value=0, max_value=1) | st.sampled_from([0, 1]),
            "findings": text(4000),
            "transcript_excerpt": text(8000),
            "customer": CUSTOMER,
            "billing": BILLING,
            "follow_up": FOLLOW_UP,
            "affected_record": AFFECTED,
            "links": LINKS,
            "sensitive": SENSITIVE,
        },
    )


# ---- what the schema refuses ---------------------------------------------------------------

REQUIRED = ("schema_version", "call_id", "occurred_at", "caller_request")
SECTIONS = ("agent", "customer", "billing", "follow_up", "affected_record", "links", "sensitive")
BOOLEANS = {("customer", "email_verified"), ("customer", "vip"), ("sensitive", "suppress")}
NUMBERS = {("match_confidence",)}
ARRAYS = {("sensitive", "categories")}

NOT_STRINGS = st.sampled_from([0, 1, -1, 12.5, True, False, [], ["x"], {}, {"value": "x"}])
NOT_BOOLEANS = st.sampled_from([0, 1, "true", "false", "yes", "", [], {}, 1.0])
NOT_NUMBERS = st.sampled_from(["0.5", "1", "", True, False, [], {}, [0.5], {"value": 0.5}])
NOT_OBJECTS = st.sampled_from(["", "x", 0, 1, True, [], [{}], ["x"]])
NOT_ARRAYS = st.sampled_from(["card_number", 1, True, {}, {"0": "card_number"}])

# (path, value): one field set to something the schema refuses, with why.
BAD_FIELD_VALUES: list[tuple[tuple[str, ...], Any, str]] = [
    (("billing", "amount"), "1234567890123", "13 integer digits"),
    (("billing", "amount"), "1.123456789", "9 decimals"),
    (("billing", "amount"), "12.5.0", "two points"),
    (("billing", "amount"), "1e5", "exponent"),
    (("billing", "amount"), "+12", "plus sign"),
    (("billing", "amount"), " 12", "leading space"),
    (("billing", "amount"), "12,50", "decimal comma"),
    (("billing", "amount"), "١٢", "Arabic-Indic digits"),
    (("billing", "amount"), "NaN", "NaN"),
    (("billing", "amount"), "", "empty"),
    (("billing", "amount"), 4200, "a number, not a string"),
    (("billing", "currency"), "usd", "lower case"),
    (("billing", "currency"), "US$", "symbol"),
    (("billing", "currency"), "€", "euro sign"),
    (("billing", "currency"), "US", "too short"),
    (("billing", "currency"), "ABCDEFGHIJK", "too long"),
    (("billing", "currency"), "US D", "space"),
    (("occurred_at",), "0000-01-01", "year zero"),
    (("occurred_at",), "2026-13-45", "month 13"),
    (("occurred_at",), "9999-12-31T25:00:00Z", "hour 25"),
    (("occurred_at",), "2026-11-26T08:14:00", "no time zone"),
    (("occurred_at",), "2026-11-26", "a date, not a date-time"),
    (("occurred_at",), "2026-02-30T00:00:00Z", "30 February"),
    (("occurred_at",), "0001-01-01T00:00:00+05:00", "before year 1 in UTC"),
    (("occurred_at",), "9999-12-31T23:30:00-05:00", "after year 9999 in UTC"),
    (("occurred_at",), "yesterday", "words"),
    (("occurred_at",), 1764144840, "Unix seconds as a number"),
    (("follow_up", "deadline"), "0000-01-01T00:00:00Z", "year zero"),
    (("follow_up", "deadline"), "9999-12-31T25:00:00Z", "hour 25"),
    (("follow_up", "deadline"), "2026-11-27T17:00:00", "no time zone"),
    (("follow_up", "deadline"), "0001-01-01T00:30:00+01:00", "before year 1 in UTC"),
    (("billing", "due_date"), "0000-01-01", "year zero"),
    (("billing", "due_date"), "2026-13-45", "month 13"),
    (("billing", "due_date"), "12/05/2026", "US style"),
    (("billing", "due_date"), "2026-12-05T00:00:00Z", "a date-time, not a date"),
    (("billing", "due_date"), 20261205, "a number"),
    (("customer", "email"), "not-an-email", "no @"),
    (("customer", "email"), "a@", "no domain"),
    (("customer", "email"), "@example.com", "no local part"),
    (("customer", "email"), "a b@example.com", "space"),
    (("customer", "email"), "a@@example.com", "two @"),
    (("customer", "email"), "a@example", "no dot in domain"),
    (("customer", "email"), "x" * 250 + "@e.com", "longer than 254"),
    (("call_id",), "calls/2026/abc", "slashes"),
    (("call_id",), "call id", "space"),
    (("call_id",), "c" * 200, "200 characters"),
    (("call_id",), "", "empty"),
    (("call_id",), "../../etc/passwd", "path"),
    (("call_id",), "abc\n", "trailing newline"),
    (("call_id",), "appel-é", "non-ASCII"),
    (("call_id",), 12345, "a number"),
    (("customer", "tax_region"), "us", "lower case"),
    (("customer", "tax_region"), "USA", "three letters"),
    (("customer", "tax_region"), "US-ABCD", "long subdivision"),
    (("links", "crm_url"), "ftp://crm.example/a", "not http"),
    (("links", "crm_url"), "javascript:alert(1)", "script"),
    (("links", "crm_url"), "crm.example/accounts/1", "no scheme"),
    (("links", "crm_url"), "https://crm.example/" + "a" * 2100, "longer than 2048"),
    (("workflow",), "refunds", "unknown workflow"),
    (("workflow",), "REFUND", "wrong case"),
    (("urgency",), "critical", "unknown urgency"),
    (("match_confidence",), 1.5, "above 1"),
    (("match_confidence",), -0.1, "below 0"),
    (("match_confidence",), "0.5", "a string"),
    (("match_confidence",), True, "a boolean"),
    (("sensitive", "categories"), ["card_number", "card_number"], "repeated"),
    (("sensitive", "categories"), ["passport"], "unknown category"),
    (("sensitive", "categories"), "card_number", "not a list"),
    (("schema_version",), "2", "unknown version"),
    (("schema_version",), 1, "a number"),
    (("caller_request",), "", "empty"),
    (("caller_request",), "x" * 2001, "longer than 2000"),
    (("findings",), "x" * 4001, "longer than 4000"),
    (("transcript_excerpt",), "x" * 8001, "longer than 8000"),
    (("customer", "name"), "x" * 201, "longer than 200"),
    (("customer", "phone"), "1" * 33, "longer than 32"),
    (("follow_up", "finance_owner"), "x" * 255, "longer than 254"),
    (("affected_record", "system"), "x" * 65, "longer than 64"),
    (("customer", "email_verified"), 1, "boolean as a number"),
    (("customer", "vip"), "true", "boolean as a string"),
    (("sensitive", "suppress"), 0, "boolean as a number"),
    (("customer",), "Harbor & Finch", "object as a string"),
    (("billing",), [], "object as a list"),
    (("customer", "name"), {"first": "Harbor"}, "string as an object"),
    (("billing", "invoice_number"), 30077, "string as a number"),
    (("agent",), None, "null object"),
    (("findings",), None, "null string"),
    (("customer", "email"), None, "null email"),
    (("follow_up", "deadline"), None, "null date-time"),
    (("caller_request",), "before\x00after", "NUL character"),
    (("follow_up", "finance_owner"), "owner\x00", "NUL character"),
]


def _leaves(handoff: Json) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in handoff.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths.extend((key, inner) for inner in value)
    return paths


def _wrong_value(path: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if path in BOOLEANS:
        return NOT_BOOLEANS
    if path in NUMBERS:
        return NOT_NUMBERS
    if path in ARRAYS:
        return NOT_ARRAYS
    if len(path) == 1 and path[0] in SECTIONS:
        return NOT_OBJECTS
    return NOT_STRINGS


def _set(handoff: Json, path: tuple[str, ...], value: Any) -> Json:
    changed = {k: (dict(v) if isinstance(v, dict) else v) for k, v in handoff.items()}
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


# Every field name the schema knows, at any level: an "extra" field must be none of them.
FIELD_NAMES = frozenset(
    name
    for model in (Handoff, Agent, Customer, Billing, FollowUp, AffectedRecord, Links, Sensitive)
    for name in model.model_fields
)
EXTRA_NAMES = st.text(string.ascii_letters + "_", min_size=1, max_size=12)


@st.composite
def invalid_handoffs(draw: st.DrawFn) -> tuple[Json, str]:
    """A valid handoff broken in one way the schema refuses, and a word on how."""
    handoff = draw(valid_handoffs())
    how = draw(st.sampled_from(["drop", "wrong_type", "extra", "null", "bad_value"]))
    if how == "drop":
        field = draw(st.sampled_from(REQUIRED))
        return {k: v for k, v in handoff.items() if k != field}, f"dropped {field}"
    if how == "wrong_type":
        path = draw(st.sampled_from(_leaves(handoff)))
        if path == ("schema_version",):
            path = ("call_id",)
        return _set(handoff, path, draw(_wrong_value(path))), f"wrong type at {path}"
    if how == "extra":
        sections = [k for k, v in handoff.items() if isinstance(v, dict)]
        where = draw(st.sampled_from([None, *sections]))
        name = draw(EXTRA_NAMES.filter(lambda n: n not in FIELD_NAMES))
        value = draw(JSON_LEAF)
        path = (where, name) if where else (name,)
        return _set(handoff, path, value), f"extra field {path}"
    if how == "null":
        path = draw(st.sampled_from(_leaves(handoff)))
        return _set(handoff, path, None), f"null at {path}"
    path, value, why = draw(st.sampled_from(BAD_FIELD_VALUES))
    if len(path) == 2 and not isinstance(handoff.get(path[0]), dict):
        handoff = {**handoff, path[0]: {}}
    return _set(handoff, path, value), f"{why} at {path}"


def utc(value: str) -> datetime:
    """Parse an RFC 3339 string as the bot should: an aware datetime, converted to UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
