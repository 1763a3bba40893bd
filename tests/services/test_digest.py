"""Digest timing: crontab weekdays as APScheduler reads them, the next digest, when posts wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.digest import GRACE, crontab_trigger, crontab_weekdays, next_digest_at, post_at
from services.routing import Digest
from tests.support.routing import make_routing

FRIDAY_10 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday
WEEKDAYS = Digest(enabled=True, cron="0 9 * * 1-5", timezone="Europe/Berlin")
ROUTING = make_routing()
WITH_DIGEST = make_routing(digest=WEEKDAYS.model_dump())


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("SUN", "sun"),
        ("5-7", "fri,sat,sun"),
        ("1,3,5", "mon,wed,fri"),
        ("*/2", "tue,thu,sat,sun"),  # crontab: 0, 2, 4, 6
        ("1/2", "mon,wed,fri"),
        ("6,0", "sat,sun"),
    ],
)
def test_crontab_weekdays_are_translated_for_apscheduler(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize("field", ["8", "x", "5-1", "1/0", "mon-"])
def test_bad_weekdays_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="day"):
        crontab_weekdays(field)


def test_cron_needs_five_fields() -> None:
    with pytest.raises(ValueError, match="5 fields"):
        crontab_trigger("0 9 * *", "UTC")


def test_next_digest_skips_the_weekend_in_the_configured_zone() -> None:
    # 09:00 in Berlin (UTC+1 in November) on the next weekday: Monday.
    assert next_digest_at(WEEKDAYS, FRIDAY_10) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    morning = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    assert next_digest_at(WEEKDAYS, morning) == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_next_digest_with_two_times_a_day() -> None:
    twice = Digest(enabled=True, cron="0 9,15 * * 1-5", timezone="UTC")
    assert next_digest_at(twice, FRIDAY_10) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_disabled_digest_never_holds_anything() -> None:
    assert next_digest_at(Digest(), FRIDAY_10) is None
    held = post_at(urgent=False, kind="handoff", deadline=None, routing=ROUTING, now=FRIDAY_10)
    assert held == FRIDAY_10


def test_only_non_urgent_dialnexa_handoffs_wait_for_the_digest() -> None:
    def when(**kw: Any) -> datetime:
        args: dict[str, Any] = {"urgent": False, "kind": "handoff", "deadline": None}
        return post_at(**(args | kw), routing=WITH_DIGEST, now=FRIDAY_10)

    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert when() == monday + GRACE
    assert when(deadline=monday + timedelta(days=3)) == monday + GRACE
    assert when(urgent=True) == FRIDAY_10
    assert when(kind="request") == FRIDAY_10
    # Due over the weekend: 24 h notice before the deadline comes before Monday's digest.
    assert when(deadline=monday + timedelta(hours=12)) == FRIDAY_10
    assert timedelta(0) < GRACE
