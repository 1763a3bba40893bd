"""The one exception tree of the Google connectors (Sheets, Drive, Gmail).

::

    GoogleError            base class; ``retry_after`` is the seconds to wait when repeating may
                           help (429, 5xx, a dropped connection), None when it cannot (a 4xx)
    ├── GoogleAuthError    the service-account key or the token endpoint (``invalid_grant``, a
                           key file that cannot be read, a token answer without a token)
    └── GoogleAPIError     a Google API answered with an error
                           (``{"error": {"code", "message", "status"}}``); carries ``http_status``
                           and Google's ``status`` ("RESOURCE_EXHAUSTED", "PERMISSION_DENIED", ...)

``result(error)`` turns any of them into the connector's answer: ``RetryAfter`` or ``GiveUp``.
Messages never hold a token or a private key: only what Google said and what was refused.
"""

from __future__ import annotations

import httpx

from connectors.base import GiveUp, RetryAfter
from connectors.retry_after import retry_after_seconds as retry_after_header

__all__ = [
    "DEFAULT_RETRY",
    "QUOTA_RETRY",
    "GoogleAPIError",
    "GoogleAuthError",
    "GoogleError",
    "api_error",
    "result",
    "retry_after_header",
]

DEFAULT_RETRY = 30.0  # seconds after a 5xx or a dropped connection without Retry-After
QUOTA_RETRY = 60.0  # seconds after a 429 without Retry-After (Google's quotas are per minute)
_MESSAGE_CHARS = 200


class GoogleError(Exception):
    """A Google call failed; ``retry_after`` is None when no retry will help."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.retry_after is not None


class GoogleAuthError(GoogleError):
    """The service-account key was refused or could not be used."""


class GoogleAPIError(GoogleError):
    """A Google API answered with an error status."""

    def __init__(
        self,
        reason: str,
        *,
        http_status: int,
        status: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.http_status = http_status
        self.status = status


def api_error(response: httpx.Response, what: str) -> GoogleAPIError:
    """The error for a Google API answer that is not a success; ``what`` names the request
    in plain words ("Google Sheets refused the row")."""
    code = response.status_code
    status = ""
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        status = str(body["error"].get("status") or "")
        message = str(body["error"].get("message") or "")
    detail = " ".join(p for p in (str(code), status, message[:_MESSAGE_CHARS]) if p)
    retry: float | None = None
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        status = "RESOURCE_EXHAUSTED"
        retry = retry_after_header(response.headers.get("Retry-After"))
        retry = QUOTA_RETRY if retry is None else retry
        detail = f"quota exceeded ({detail})"
    elif code >= 500:
        retry = retry_after_header(response.headers.get("Retry-After")) or DEFAULT_RETRY
    return GoogleAPIError(f"{what}: {detail}", http_status=code, status=status, retry_after=retry)


def result(error: GoogleError) -> RetryAfter | GiveUp:
    """The connector's answer to ``error``: retry later when that may help, else give up."""
    if error.retry_after is not None:
        return RetryAfter(error.retry_after, error.reason)
    return GiveUp(error.reason)
