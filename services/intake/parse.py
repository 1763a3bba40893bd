"""Reading a DialNexa delivery: size, signature, media type, JSON, then the handoff schema.

Errors are ``IntakeError`` carrying the HTTP status, a short code and, for schema problems, every
offending field, so the web handler only has to serialise them.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.handoff_model import Handoff, money_problems
from services.requests import REQUEST_ID_PREFIX, is_request_id
from services.signing import SignatureError, verify

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "FieldProblem", "IntakeError", "parse_delivery"]

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# Bytes that send a delivery down the careful path: explicit nulls, escaped NULs, NaN/Infinity.
_NEEDS_CAREFUL_READ = re.compile(rb"null|\\u0000|NaN|Infinity")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str


@dataclass(slots=True)
class IntakeError(Exception):
    status: int
    error: str
    message: str
    fields: list[FieldProblem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.fields:
            body["fields"] = [{"field": p.field, "reason": p.reason} for p in self.fields]
        return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    # Iterative so hostile nesting cannot exhaust the stack.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not parts:
            parts.append(part)
        else:
            parts.append(f".{part}")
    return "".join(parts) or "(body)"


def _schema_problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's internal union/type markers from the location.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        problems.append(FieldProblem(_field_path(loc), reason))
    return problems


def parse_delivery(
    *,
    body: bytes,
    content_type: str | None,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: float,
) -> Handoff:
    """Verify and parse one webhook delivery; raise IntakeError with the right status."""
    if len(body) > MAX_BODY_BYTES:
        raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        verify(secret, timestamp=timestamp, signature=signature, body=body, now=now)
    except SignatureError as exc:
        raise IntakeError(401, "invalid_signature", str(exc)) from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise IntakeError(415, "unsupported_media_type", "Content-Type must be application/json")
    if not _NEEDS_CAREFUL_READ.search(body):
        # The common case in one pass: the model's own JSON parser validates the whole handoff.
        # Without "null", an escaped NUL or NaN/Infinity in the bytes, the checks below cannot
        # find anything the model lets through (it has no free-form objects, so its depth is
        # bounded); any refusal falls through to them for the field-by-field answer.
        with contextlib.suppress(ValidationError):
            return _payable(Handoff.model_validate_json(body, strict=True))
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise IntakeError(400, "invalid_json", "body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise IntakeError(
            400, "invalid_json", f"body is not valid JSON: {exc.msg} at {where}"
        ) from None
    except (ValueError, RecursionError):  # NaN or Infinity, a huge integer, hostile nesting
        raise IntakeError(400, "invalid_json", "body is not valid JSON") from None
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise IntakeError(400, "invalid_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise IntakeError(
            422,
            "invalid_handoff",
            "body must be a JSON object",
            [FieldProblem("(body)", "must be an object")],
        )
    problems = _unstorable(data)
    handoff: Handoff | None = None
    try:
        # Strict, as JSON Schema is: no "1" for true, no numbers for strings.
        handoff = Handoff.model_validate_json(text, strict=True)
    except ValidationError as exc:
        named = {p.field for p in problems}
        problems += [p for p in _schema_problems(exc) if p.field not in named]
    if handoff is None or problems:
        raise IntakeError(
            422, "invalid_handoff", f"{len(problems)} field(s) refused by the schema", problems
        )
    return _payable(handoff)


def _payable(handoff: Handoff) -> Handoff:
    """Refuse (422), before anything is stored, money an invoice workflow could never bill and
    a call ID in the space kept for requests made in Slack."""
    problems = [FieldProblem(name, reason) for name, reason in money_problems(handoff)]
    if is_request_id(handoff.call_id):
        problems.insert(
            0, FieldProblem("call_id", f"the prefix {REQUEST_ID_PREFIX} is reserved for Slack")
        )
    if problems:
        raise IntakeError(422, "invalid_handoff", f"{len(problems)} field(s) refused", problems)
    return handoff


def _unstorable(data: dict[str, Any]) -> list[FieldProblem]:
    """Explicit nulls (the schema allows none) and U+0000 (PostgreSQL cannot store it)."""
    problems: list[FieldProblem] = []
    stack: list[tuple[str, Any]] = [(key, value) for key, value in data.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif value is None:
            problems.append(FieldProblem(path, "must not be null"))
        elif isinstance(value, str) and "\x00" in value:
            problems.append(FieldProblem(path, "must not contain the NUL character (U+0000)"))
    return sorted(problems, key=lambda p: p.field)
