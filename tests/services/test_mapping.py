from __future__ import annotations

from services.mapping import describe_gaps


def test_gaps_read_most_often_missing_first() -> None:
    assert describe_gaps({"status": 1, "owner": 4, "record URL": 4}) == (
        "owner (4), record URL (4), status (1)"
    )
    assert describe_gaps({}) == ""
