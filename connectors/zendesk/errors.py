"""The one exception tree of the Zendesk connector.

::

    ZendeskError                 base class; ``retryable`` says whether repeating may help
    ├── ZendeskAPIError          Zendesk answered with an error status: ``http_status``, its
    │                            ``error`` code ("RecordInvalid"), ``description``, ``details``
    │                            and, on a 429, ``retry_after``
    └── ZendeskTransportError    no usable answer (connection refused or reset, timeout, ...)

Nothing here carries the API token: errors are built from Zendesk's answers, never from the
request's headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ZendeskAPIError", "ZendeskError", "ZendeskTransportError", "describe"]

DETAILS_MAX = 3  # fields of a 422's details named in a reason


class ZendeskError(Exception):
    """Base class of every Zendesk error."""

    retryable: bool = False
    retry_after: float | None = None


class ZendeskAPIError(ZendeskError):
    """Zendesk answered with a 4xx or 5xx."""

    def __init__(
        self,
        http_status: int,
        *,
        error: str | None = None,
        description: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.error = error
        self.description = description
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after
        self.retryable = http_status == 429 or http_status >= 500
        super().__init__(describe(self))


class ZendeskTransportError(ZendeskError):
    """No usable answer reached us; Zendesk may or may not have acted."""

    retryable = True


def _detail_text(details: Mapping[str, Any]) -> str:
    """``{"requester": [{"description": "Requester: Email is invalid"}]}`` as one short text."""
    parts: list[str] = []
    for field, problems in list(details.items())[:DETAILS_MAX]:
        items = problems if isinstance(problems, list) else [problems]
        said = [
            str(p.get("description") or p.get("error") or "") if isinstance(p, Mapping) else str(p)
            for p in items
        ]
        text = "; ".join(s for s in said if s)
        parts.append(f"{field}: {text}" if text else str(field))
    return ", ".join(parts)


def describe(error: ZendeskAPIError) -> str:
    """``422 RecordInvalid: Record validation errors (requester: Email is invalid)``."""
    text = str(error.http_status)
    # Zendesk's 401 says it all in "error" ("Couldn't authenticate you"); a 422 names a code.
    if error.error:
        text += f" {error.error}"
    if error.description:
        text += f": {error.description}"
    if error.details:
        text += f" ({_detail_text(error.details)})"
    return text
