"""Verification and parsing of Plisio status callbacks (pure functions, no I/O).

Plisio signs every callback with ``verify_hash``: the lowercase hex HMAC-SHA1, keyed with the
shop's secret key, of the other fields serialised either as compact JSON (when the callback URL
carried ``json=true``) or with PHP's ``serialize()`` of the sorted fields (form-encoded callbacks).

Plisio's own sources disagree on the JSON reading, so a JSON callback is accepted when any of
these matches (each compared in constant time, all with the shop's secret key):

``sorted``
    keys sorted, values as sent, compact, raw UTF-8, slashes not escaped (the project contract;
    PHP ``json_encode`` with ``JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES``).
``sorted_strings``
    keys sorted, every value turned into a string first (``data[key] + ""``), then
    ``JSON.stringify``: ``ResponseValidator`` of ``Plisio/nodejs-api-client``.
``as_received``
    keys in the order they arrived, values as sent, ``JSON.stringify``: the Node.js example of
    Plisio's documentation (``const ordered = {...data}; delete ordered.verify_hash``).
``as_received_ascii``
    keys in the order they arrived, ``json.dumps(..., separators=(",", ":"))``, which escapes
    non-ASCII as ``\\uXXXX``: ``validate_callback`` of the PyPI ``plisio`` package.
``sorted_ascii``
    the same with sorted keys (what that SDK's discarded ``sort_keys=True`` call meant to do).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.plisio.errors import PlisioCallbackError
from connectors.plisio.models import Money, UtcTimestamp, is_paid

__all__ = [
    "PlisioCallback",
    "canonical_json",
    "json_signing_variants",
    "matching_json_variant",
    "parse_callback",
    "php_serialize_str_map",
    "sign_form_callback",
    "sign_json_callback",
    "verify_and_parse_callback",
    "verify_form_callback",
    "verify_json_callback",
]

HASH_FIELD = "verify_hash"


def _without_hash(body: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in sorted(body.items()) if key != HASH_FIELD}


def _hmac_sha1(message: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).hexdigest()


def _matches(expected: str, given: object) -> bool:
    if not isinstance(given, str):
        return False
    # Compare bytes: compare_digest on str raises for non-ASCII input.
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8"))


def canonical_json(body: Mapping[str, object]) -> str:
    """Serialise a callback body as Plisio signs it (sorted, compact, raw UTF-8 and slashes)."""
    return json.dumps(
        _without_hash(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def _js_string(value: object) -> str:
    """``value + ""`` in JavaScript, for the JSON values Python parsed."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    return "[object Object]"


def _js_number(value: float) -> str:
    """JavaScript's Number-to-string for a finite float (shortest round trip, JS exponents)."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    power = int(exponent)
    if -7 < power < 21:  # JS writes these out in full where Python switched to exponents
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _compact(data: Mapping[str, object], *, ascii_only: bool, sort: bool) -> str:
    return json.dumps(data, ensure_ascii=ascii_only, sort_keys=sort, separators=(",", ":"))


def json_signing_variants(body: Mapping[str, object]) -> dict[str, str]:
    """Every serialisation of a JSON callback that one of Plisio's official sources signs."""
    received = {key: value for key, value in body.items() if key != HASH_FIELD}
    strings = {key: _js_string(value) for key, value in sorted(received.items())}
    return {
        "sorted": _compact(received, ascii_only=False, sort=True),
        "sorted_strings": _compact(strings, ascii_only=False, sort=False),
        "as_received": _compact(received, ascii_only=False, sort=False),
        "as_received_ascii": _compact(received, ascii_only=True, sort=False),
        "sorted_ascii": _compact(received, ascii_only=True, sort=True),
    }


def matching_json_variant(body: Mapping[str, object], secret: str) -> str | None:
    """The name of the signing variant ``verify_hash`` matches, or None."""
    if not secret:
        return None
    given = body.get(HASH_FIELD)
    found = None
    for name, message in json_signing_variants(body).items():
        # Every variant is computed and compared, so the time taken says nothing about which.
        if _matches(_hmac_sha1(message, secret), given) and found is None:
            found = name
    return found


def php_serialize_str_map(d: Mapping[str, str]) -> str:
    """Return PHP's ``serialize()`` of a string-to-string map, in the map's own order."""
    parts = [f"a:{len(d)}:{{"]
    for key, value in d.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("php_serialize_str_map only serialises str keys and str values")
        parts.append(f's:{len(key.encode("utf-8"))}:"{key}";')
        parts.append(f's:{len(value.encode("utf-8"))}:"{value}";')
    parts.append("}")
    return "".join(parts)


def sign_json_callback(body: Mapping[str, object], secret: str) -> str:
    """Return the ``verify_hash`` Plisio would send with this JSON callback body."""
    return _hmac_sha1(canonical_json(body), secret)


def sign_form_callback(fields: Mapping[str, str], secret: str) -> str:
    """Return the ``verify_hash`` Plisio would send with these form-encoded fields."""
    ordered = {key: value for key, value in sorted(fields.items()) if key != HASH_FIELD}
    return _hmac_sha1(php_serialize_str_map(ordered), secret)


def verify_json_callback(body: Mapping[str, object], secret: str) -> bool:
    """Return True when the JSON callback's ``verify_hash`` matches any official reading."""
    return matching_json_variant(body, secret) is not None


def verify_form_callback(fields: Mapping[str, str], secret: str) -> bool:
    """Return True when the form callback's ``verify_hash`` matches its other fields."""
    if not secret:
        return False
    given = fields.get(HASH_FIELD)
    if any(not isinstance(value, str) for value in fields.values()):
        return False
    if _matches(sign_form_callback(fields, secret), given):
        return True
    # Plisio's own PHP plugins html-decode tx_urls before hashing; accept that reading too.
    tx_urls = fields.get("tx_urls")
    if tx_urls is not None and html.unescape(tx_urls) != tx_urls:
        decoded = {**fields, "tx_urls": html.unescape(tx_urls)}
        return _matches(sign_form_callback(decoded, secret), given)
    return False


class PlisioCallback(BaseModel):
    """A status callback from Plisio; every value arrives as a string."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    txn_id: str
    status: str
    order_number: str | None = None
    order_name: str | None = None
    ipn_type: str | None = None
    merchant: str | None = None
    merchant_id: str | None = None
    amount: Money = None
    received_amount: Money = None
    pending_amount: Money = None
    invoice_sum: Money = None
    invoice_commission: Money = None
    invoice_total_sum: Money = None
    currency: str | None = None
    psys_cid: str | None = None
    source_amount: Money = None
    source_currency: str | None = None
    source_rate: Money = None
    confirmations: int | None = None
    comment: str | None = None
    expire_utc: UtcTimestamp = None
    tx_urls: str | None = None
    verify_hash: str | None = None

    @property
    def is_paid(self) -> bool:
        """True when the status counts as paid."""
        return is_paid(self.status)


def parse_callback(body: Mapping[str, object]) -> PlisioCallback:
    """Parse a (verified) callback body; raise ``PlisioCallbackError`` naming the bad field."""
    cleaned = {key: (None if value == "" else value) for key, value in body.items()}
    for key, value in cleaned.items():
        # Signed or not, a NUL cannot be stored (PostgreSQL refuses it in text columns).
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise PlisioCallbackError(
                f"invalid Plisio callback field {key!r}: contains a NUL character",
                http_status=422,
                field=key,
            )
    try:
        return PlisioCallback.model_validate(cleaned)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise PlisioCallbackError(
            f"invalid Plisio callback field {field}: {first['msg']}", http_status=422, field=field
        ) from None


def verify_and_parse_callback(
    body: Mapping[str, object], secret: str, *, form: bool
) -> PlisioCallback:
    """Verify ``verify_hash`` (form or JSON reading) and parse; raise ``PlisioCallbackError``."""
    if HASH_FIELD not in body:
        raise PlisioCallbackError(
            "Plisio callback without verify_hash", http_status=401, field=HASH_FIELD
        )
    if form:
        fields = {key: value for key, value in body.items() if isinstance(value, str)}
        valid = len(fields) == len(body) and verify_form_callback(fields, secret)
    else:
        valid = verify_json_callback(body, secret)
    if not valid:
        raise PlisioCallbackError(
            "Plisio callback signature does not match", http_status=401, field=HASH_FIELD
        )
    return parse_callback(body)
