"""When a typed time means: "2h", "30m", "tomorrow 9am", "friday", "until 5pm", "next week",
"Dec 10", "10 December", "2026-12-10".

A pure function of the words, ``now`` and the person's Slack time zone (an unknown zone counts as
UTC). A day without a time means 09:00 there, like the Snooze menu's "tomorrow"; a time that has
already passed today means that time tomorrow. A date without a year is its next occurrence. The
answer is in ``now``'s time zone.

``parse_until`` reads the end of an absence ("away until Friday"): a day without a time means
the end of that working day (18:00 there).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.snooze import MORNING

__all__ = ["END_OF_DAY", "parse_until", "parse_when"]

END_OF_DAY = time(18)  # "away until Friday": back after Friday's working day

_UNITS = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
_DURATION = re.compile(
    r"(?<![\d:._])(?:(\d+(?:\.\d+)?)\s*"
    r"(minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wk|w)"
    r"|\b(an?|one|two|three|four|half an?)\s+(minutes?|hours?|days?|weeks?))(?![a-z])"
)
_SMALL = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0}
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|\b(\d{1,2}):(\d{2})\b")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAMED_TIMES = {"noon": time(12), "midday": time(12), "eod": time(17), "tonight": time(20)}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"(?:uary|ruary|ch|il|e|y|ust|t|tember|ober|ember|\.)?"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?![a-z])")


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _duration(text: str) -> timedelta | None:
    total = 0.0
    for digits, unit, spelled, spelled_unit in _DURATION.findall(text):
        if digits:
            total += float(digits) * _UNITS[unit]
        else:
            number = 0.5 if spelled.startswith("half") else _SMALL[spelled]
            total += number * _UNITS[spelled_unit]
    return timedelta(seconds=total) if total > 0 else None


def _clock(text: str) -> time | None:
    match = _CLOCK.search(text)
    if match is None:
        for word, at in _NAMED_TIMES.items():
            if re.search(rf"\b{word}\b", text) or (word == "eod" and "end of day" in text):
                return at
        return None
    if match.group(4) is not None:
        hour, minute = int(match.group(4)), int(match.group(5))
    else:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        pm = match.group(3).startswith("p")
        if hour == 12:
            hour = 0
        hour += 12 if pm else 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _weekday(words: list[str]) -> int | None:
    for word in words:
        if 3 <= len(word) <= 9 and word[:3] in _WEEKDAYS:
            full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
            index = _WEEKDAYS.index(word[:3])
            if full[index].startswith(word) or word in {"tues", "thur", "thurs", "weds"}:
                return index
    return None


def _calendar_date(text: str, today: date) -> date | None:
    """An ISO date, "Dec 10" or "10 December" (without a year: its next occurrence)."""
    iso = _ISO_DATE.search(text)
    if iso is not None:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    named = _MONTH_DAY.search(text)
    if named is not None:
        month, day = _MONTHS.index(named.group(1)) + 1, int(named.group(2))
    else:
        named = _DAY_MONTH.search(text)
        if named is None:
            return None
        month, day = _MONTHS.index(named.group(2)) + 1, int(named.group(1))
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if found >= today:
            return found
    return None


def _day(text: str, words: list[str], today: date) -> date | None:
    """The day ``text`` names relative to ``today`` (in the person's zone), or None."""
    if "tomorrow" in words or "tmrw" in words or "tmr" in words:
        return today + timedelta(days=1)
    if "today" in words or "tonight" in words:
        return today
    if "next" in words and "week" in words:
        return today + timedelta(days=7 - today.weekday())
    weekday = _weekday(words)
    if weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return _calendar_date(text, today)


def parse_until(text: str, *, now: datetime, tz: str | None = None) -> datetime | None:
    """The end of an absence ``text`` names ("until Friday", "till Dec 10 noon", "for 3 days"),
    or None. A day without a time means 18:00 there; a bare time already passed, tomorrow."""
    text = text.lower()
    words = re.findall(r"[a-z]+", text)
    zone = _zone(tz)
    local = now.astimezone(zone)
    day = _day(text, words, local.date())
    at = _clock(text)
    if day is None and at is None:
        after = _duration(text)
        return now + after if after is not None else None
    if day is None:
        moment = datetime.combine(local.date(), at or END_OF_DAY, tzinfo=zone)
        if moment <= local:
            moment += timedelta(days=1)
    else:
        moment = datetime.combine(day, at or END_OF_DAY, tzinfo=zone)
    return moment.astimezone(now.tzinfo)


def parse_when(text: str, *, now: datetime, tz: str | None = None) -> datetime | None:
    """The moment ``text`` names, or None when it names none."""
    text = text.lower()
    after = _duration(text)
    if after is not None:
        return now + after
    words = re.findall(r"[a-z]+", text)
    zone = _zone(tz)
    local = now.astimezone(zone)
    at = _clock(text)
    day = None
    if "tomorrow" in words or "tmrw" in words or "tmr" in words:
        day = local.date() + timedelta(days=1)
    elif "today" in words or "tonight" in words:
        day = local.date()
    elif "next" in words and "week" in words:
        day = local.date() + timedelta(days=7 - local.weekday())
    else:
        weekday = _weekday(words)
        if weekday is not None:
            ahead = (weekday - local.weekday()) % 7 or 7
            day = local.date() + timedelta(days=ahead)
        else:
            day = _calendar_date(text, local.date())
    if day is None and at is None:
        return None
    if day is None:
        moment = datetime.combine(local.date(), at or MORNING, tzinfo=zone)
        if moment <= local:
            moment += timedelta(days=1)
    else:
        moment = datetime.combine(day, at or MORNING, tzinfo=zone)
    return moment.astimezone(now.tzinfo)
