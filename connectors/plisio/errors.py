"""The one exception tree of the Plisio integration.

::

    PlisioError                    base class (a ``services.payment_provider.PaymentProviderError``);
                                   ``retryable`` says whether repeating may help
    ├── PlisioAPIError             Plisio answered, but with an error: ``{"status": "error"}`` (even
    │                              under HTTP 200), a 4xx/5xx status, or a body that is not the
    │                              expected JSON. Carries ``name``, ``code``, ``message``,
    │                              ``http_status`` and ``field_errors``.
    ├── PlisioTransportError       no usable answer: connection refused or reset, DNS, TLS, ...
    │   └── PlisioTimeout          the request timed out (the outcome is unknown)
    └── PlisioCallbackError        an inbound status callback failed verification or parsing;
                                   carries the HTTP status to answer with and the offending field

The API key travels in the query string, so every text that may hold a URL goes through
:func:`redact` before it reaches an exception message or a log line.
"""

from __future__ import annotations

import json
import re

from services.payment_provider import PaymentProviderError

__all__ = [
    "PlisioAPIError",
    "PlisioCallbackError",
    "PlisioError",
    "PlisioTimeout",
    "PlisioTransportError",
    "parse_field_errors",
    "redact",
]

_API_KEY_RE = re.compile(r"(api_key=)[^&\s\"'#<>]*", re.IGNORECASE)
_REDACTED = "***"


def redact(text: str, *secrets: str) -> str:
    """Return ``text`` with ``api_key=...`` values and any of ``secrets`` replaced by ``***``."""
    text = _API_KEY_RE.sub(r"\1" + _REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def parse_field_errors(message: object) -> dict[str, str]:
    """Return ``{field: message}`` when Plisio's ``data.message`` encodes field errors."""
    decoded: object = message
    if isinstance(message, str):
        stripped = message.strip()
        if not stripped.startswith("{"):
            return {}
        try:
            decoded = json.loads(stripped)
        except ValueError:
            return {}
    if not isinstance(decoded, dict):
        return {}
    fields: dict[str, str] = {}
    for key, value in decoded.items():
        # Yii validators may give a list of messages per field.
        if isinstance(value, list):
            fields[str(key)] = "; ".join(str(item) for item in value)
        else:
            fields[str(key)] = str(value)
    return fields


class PlisioError(PaymentProviderError):
    """Base class of every Plisio error (a ``PaymentProviderError``: ``message``, ``retryable``)."""


class PlisioAPIError(PlisioError):
    """Plisio answered with an error (or with something that is not its JSON shape)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        name: str | None = None,
        code: int | None = None,
        field_errors: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.name = name
        self.code = code
        self.field_errors: dict[str, str] = dict(field_errors or {})
        self.retry_after = retry_after
        self.retryable = http_status >= 500 or http_status == 429

    def __str__(self) -> str:
        details = [f"HTTP {self.http_status}"]
        if self.name:
            details.append(self.name)
        if self.code is not None:
            details.append(f"code {self.code}")
        return f"{self.message} ({', '.join(details)})"


class PlisioTransportError(PlisioError):
    """No usable answer reached us (connection, DNS, TLS or protocol failure)."""

    retryable = True


class PlisioTimeout(PlisioTransportError):
    """The request timed out; Plisio may or may not have acted on it."""


class PlisioCallbackError(PlisioError):
    """An inbound Plisio callback was rejected; ``http_status`` is what to answer."""

    def __init__(self, message: str, *, http_status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.field = field
