"""The per-channel pace of handoff posts: how it answers Slack's 429s (a pure, clock-driven unit)."""

from __future__ import annotations

import pytest

from slack_adapter.pacing import MIN_POST_RATE, SLOWDOWN, SPEEDUP_AFTER, ChannelPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_posts_are_spaced_at_the_rate_without_catching_up_after_a_lull() -> None:
    clock = Clock()
    pacer = ChannelPacer(4.0, clock=clock)
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0, 0.25, 0.5])
    clock.now += 10  # idle: no burst of saved-up slots afterwards
    assert [pacer.reserve() for _ in range(2)] == pytest.approx([0.0, 0.25])


def test_a_429_pauses_the_channel_for_retry_after_and_slows_it() -> None:
    clock = Clock()
    pacer = ChannelPacer(20.0, clock=clock)
    pacer.reserve()
    pacer.rate_limited(1.0)
    assert pacer.rate == pytest.approx(20.0 * SLOWDOWN)
    assert pacer.reserve() == pytest.approx(1.0)
    assert pacer.reserve() == pytest.approx(1.0 + 1 / (20.0 * SLOWDOWN))


def test_the_rate_never_drops_below_the_floor() -> None:
    pacer = ChannelPacer(1.0, clock=Clock())
    for _ in range(100):
        pacer.rate_limited(1.0)
    assert pacer.rate == pytest.approx(MIN_POST_RATE)


def test_quiet_minutes_bring_the_rate_back_step_by_step_to_the_setting() -> None:
    clock = Clock()
    pacer = ChannelPacer(10.0, clock=clock)
    pacer.rate_limited(1.0)
    pacer.rate_limited(1.0)
    assert pacer.rate == pytest.approx(10.0 * SLOWDOWN**2)
    clock.now += SPEEDUP_AFTER
    pacer.reserve()
    assert pacer.rate == pytest.approx(10.0 * SLOWDOWN)
    clock.now += SPEEDUP_AFTER
    pacer.reserve()
    assert pacer.rate == pytest.approx(10.0)
    clock.now += SPEEDUP_AFTER
    pacer.reserve()
    assert pacer.rate == pytest.approx(10.0)  # never above the setting
