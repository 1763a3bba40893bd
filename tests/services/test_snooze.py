"""The snooze rule: 1 h, 4 h, or tomorrow 09:00 where the person is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from blocks.ids import SnoozeFor
from handlers.actions import snooze_until as reexported
from services.snooze import needs_time_zone, snooze_until

NOW = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)  # a Thursday, late evening in UTC


@pytest.mark.parametrize(
    ("choice", "tz_name", "expected"),
    [
        (SnoozeFor.ONE_HOUR, None, datetime(2026, 11, 26, 23, 30, tzinfo=UTC)),
        (SnoozeFor.FOUR_HOURS, None, datetime(2026, 11, 27, 2, 30, tzinfo=UTC)),
        (SnoozeFor.ONE_HOUR, "Asia/Tokyo", datetime(2026, 11, 26, 23, 30, tzinfo=UTC)),
        (SnoozeFor.TOMORROW, None, datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        (SnoozeFor.TOMORROW, "UTC", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        # New York: 17:30 on the 26th locally, so tomorrow is the 27th, 09:00 EST = 14:00 UTC.
        (SnoozeFor.TOMORROW, "America/New_York", datetime(2026, 11, 27, 14, 0, tzinfo=UTC)),
        # Tokyo: already 07:30 on the 27th locally, so tomorrow is the 28th, 09:00 JST = 00:00 UTC.
        (SnoozeFor.TOMORROW, "Asia/Tokyo", datetime(2026, 11, 28, 0, 0, tzinfo=UTC)),
        # An unknown or malformed zone counts as UTC.
        (SnoozeFor.TOMORROW, "Mars/Olympus_Mons", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        (SnoozeFor.TOMORROW, "../etc/passwd", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        (SnoozeFor.TOMORROW, "", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
    ],
)
def test_snooze_until(choice: SnoozeFor, tz_name: str | None, expected: datetime) -> None:
    assert snooze_until(choice, NOW, tz_name) == expected


def test_tomorrow_morning_across_a_daylight_saving_change() -> None:
    # Europe/Berlin leaves summer time on 2026-10-25: 09:00 that morning is 08:00 UTC.
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert snooze_until(SnoozeFor.TOMORROW, now, "Europe/Berlin") == datetime(
        2026, 10, 25, 8, 0, tzinfo=UTC
    )


def test_the_answer_keeps_the_time_zone_of_now() -> None:
    plus_two = timezone(timedelta(hours=2))
    now = datetime(2026, 11, 26, 10, 0, tzinfo=plus_two)
    until = snooze_until(SnoozeFor.TOMORROW, now, "UTC")
    assert until.tzinfo is plus_two
    assert until == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("choice", "needed"),
    [(SnoozeFor.ONE_HOUR, False), (SnoozeFor.FOUR_HOURS, False), (SnoozeFor.TOMORROW, True)],
)
def test_only_tomorrow_needs_the_time_zone(choice: SnoozeFor, needed: bool) -> None:
    assert needs_time_zone(choice) is needed


def test_handlers_still_export_the_rule() -> None:
    assert reexported is snooze_until
