"""What the ``stripe`` library raised, as the outbox's answer: retry (429, 5xx, connection) or
give up with a reason a person can act on (the key refused, a permission missing)."""

from __future__ import annotations

import re
from typing import Any

import stripe

from connectors.base import GiveUp, RetryAfter
from connectors.retry_after import retry_after_seconds as read_retry_after

__all__ = ["DEFAULT_RETRY_SECONDS", "as_result", "retry_after_seconds"]

DEFAULT_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
MESSAGE_CHARS = 200
# A restricted key's 403 names the permission that would allow the request, e.g.
# "Having the 'rak_customer_read' permission would allow this request to continue."
_PERMISSION = re.compile(r"\b(rak_[a-z0-9_]+)\b")
_SECRET = re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9*]+")


def _message(exc: stripe.StripeError) -> str:
    text = exc.user_message or str(exc._message or "") or exc.__class__.__name__
    return _SECRET.sub("[key]", " ".join(text.split()))[:MESSAGE_CHARS]


def retry_after_seconds(headers: Any, default: float = DEFAULT_RETRY_SECONDS) -> float:
    """``Retry-After`` (the shared reading, ``connectors.retry_after``), else ``default``;
    capped at an hour."""
    value = headers.get("retry-after") if headers is not None else None
    seconds = read_retry_after(value)
    return default if seconds is None else min(MAX_RETRY_SECONDS, seconds)


def as_result(exc: stripe.StripeError, action: str = "lookup") -> RetryAfter | GiveUp:
    """The outbox's answer to a failed request (``action`` names it: "lookup", "refund")."""
    status = exc.http_status
    if isinstance(exc, stripe.AuthenticationError) or status == 401:
        return GiveUp("Stripe refused the API key (401): check STRIPE_API_KEY")
    if isinstance(exc, stripe.PermissionError) or status == 403:
        found = _PERMISSION.search(str(exc._message or ""))
        if found:
            return GiveUp(
                f"Stripe refused the {action} (403): the restricted key is missing the "
                f"{found.group(1)} permission"
            )
        return GiveUp(f"Stripe refused the {action} (403): {_message(exc)}")
    if isinstance(exc, stripe.RateLimitError) or status == 429:
        return RetryAfter(retry_after_seconds(exc.headers), "Stripe rate limit (429)")
    if isinstance(exc, stripe.APIConnectionError):
        return RetryAfter(DEFAULT_RETRY_SECONDS, "could not reach Stripe")
    if status is None or status >= 500:
        return RetryAfter(
            retry_after_seconds(exc.headers), f"Stripe error ({status or 'no status'})"
        )
    return GiveUp(f"Stripe refused the {action} ({status}): {_message(exc)}")
