"""When a snooze ends: the rule behind the Snooze menu, a pure function of the choice and now."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["MORNING", "needs_time_zone", "snooze_until"]

MORNING = time(9, 0)  # "tomorrow" means this time of day in the person's own time zone
_AFTER = {"1h": timedelta(hours=1), "4h": timedelta(hours=4)}


def needs_time_zone(choice: str) -> bool:
    """Does this choice depend on where the person is (so their time zone is worth a lookup)?"""
    return str(choice) not in _AFTER


def snooze_until(choice: str, now: datetime, tz_name: str | None) -> datetime:
    """When a snooze ends: 1 h, 4 h, or tomorrow 09:00 in the user's own time zone.

    ``choice`` is a ``blocks.ids.SnoozeFor`` (or its value); an unknown or missing time zone
    counts as UTC. The answer is in ``now``'s time zone.
    """
    after = _AFTER.get(str(choice))
    if after is not None:
        return now + after
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    morning = datetime.combine(local.date() + timedelta(days=1), MORNING, tzinfo=zone)
    return morning.astimezone(now.tzinfo)
