"""Small parts of the Slack adapter: note keys, channel lanes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from blocks.audit import thread_note
from services.outbox import ClaimedItem
from services.posts import PostRecords
from slack_adapter.notes import content_key
from slack_adapter.pacing import ChannelLanes, Pacers

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_note_key_follows_what_the_note_reports() -> None:
    note = thread_note("declined", "U0AP1", AT, detail="Too late")
    assert content_key("h1", note) == content_key("h1", dict(note))
    assert content_key("h1", note).startswith("note:h1:")
    assert content_key("h2", note) != content_key("h1", note)
    others = [
        thread_note("declined", "U0AP2", AT, detail="Too late"),
        thread_note("declined", "U0AP1", AT, detail="Too early"),
        thread_note("escalated", "U0AP1", AT, detail="Too late"),
        thread_note("declined", "U0AP1", AT.replace(minute=31), detail="Too late"),
    ]
    assert len({content_key("h1", n) for n in [note, *others]}) == 5
    assert len(content_key("x" * 32, note)) <= 200  # fits the outbox's dedupe key


class Channels(PostRecords):
    def __init__(self, channels: dict[str, str]) -> None:
        self._channels = channels

    async def channels(self, handoff_ids: Iterable[str | None]) -> dict[str, str]:
        return {h: self._channels[h] for h in handoff_ids if h in self._channels}


async def test_only_handoff_posts_run_in_their_channel_lane() -> None:
    lanes = ChannelLanes(Channels({"h1": "C1", "h2": "C2"}), Pacers(2.0))
    items = [
        ClaimedItem(1, "h1", "post_handoff", {}, 1),
        ClaimedItem(2, "h2", "post_handoff", {}, 1),
        ClaimedItem(3, "h1", "thread_note", {}, 1),
        ClaimedItem(4, "gone", "post_handoff", {}, 1),
    ]
    assert await lanes.assign(items) == {1: "C1", 2: "C2", 4: ""}
    assert lanes.room("C1", 10.0) == 20
    assert lanes.room("C1", 0.1) == 1  # always at least one
