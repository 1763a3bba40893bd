"""The audit export's pure parts: the date range asked for and formula neutralising."""

from __future__ import annotations

from datetime import date

import pytest

from services.export import ExportRange, ExportRangeError, export_filename, neutralise, parse_range

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, ExportRange(date(2026, 10, 29), TODAY)),  # 30 days, today included
        ("", "  ", ExportRange(date(2026, 10, 29), TODAY)),
        ("2026-11-01", None, ExportRange(date(2026, 11, 1), TODAY)),
        ("2026-11-01", "2026-11-01", ExportRange(date(2026, 11, 1), date(2026, 11, 1))),
        (None, "2026-10-31", ExportRange(date(2026, 10, 2), date(2026, 10, 31))),
    ],
)
def test_parse_range(first: str | None, last: str | None, expected: ExportRange) -> None:
    assert parse_range(first, last, today=TODAY) == expected


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-02-30", None, "from"),
        ("20261101", None, "from"),
        ("2026-11-1", None, "from"),
        (None, "tomorrow", "to"),
        ("2026-11-20", "2026-11-01", "from"),
        ("1900-01-01", None, "from"),  # an implausibly long range
    ],
)
def test_parse_range_names_the_bad_field(first: str | None, last: str | None, field: str) -> None:
    with pytest.raises(ExportRangeError) as raised:
        parse_range(first, last, today=TODAY)
    assert raised.value.field == field


def test_the_range_includes_the_whole_last_day() -> None:
    span = parse_range("2026-11-01", "2026-11-02", today=TODAY)
    assert span.start.isoformat() == "2026-11-01T00:00:00+00:00"
    assert span.end.isoformat() == "2026-11-03T00:00:00+00:00"
    assert export_filename(span) == "audit-trail-2026-11-01-to-2026-11-02.csv"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Rosa Delgado", "Rosa Delgado"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected
