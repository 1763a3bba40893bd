"""What went wrong talking to HubSpot, and whether trying again may help.

::

    HubSpotError            base: ``reason`` is fit for the thread and the audit log
    ├── HubSpotRefused      a 4xx: the token, a missing scope, a bad request; no retry helps
    └── HubSpotUnavailable  a 429, a 5xx, a dropped connection or a timeout: try again after
                            ``retry_after`` seconds (HubSpot's Retry-After when it sent one)
"""

from __future__ import annotations

__all__ = ["HubSpotError", "HubSpotRefused", "HubSpotUnavailable"]


class HubSpotError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HubSpotRefused(HubSpotError):
    """HubSpot said no (4xx other than 429)."""

    def __init__(self, reason: str, *, status: int, category: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.category = category


class HubSpotUnavailable(HubSpotError):
    """Nothing usable came back; the same request may work later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
