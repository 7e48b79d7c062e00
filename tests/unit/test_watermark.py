from __future__ import annotations

from nextbest.streams.clock import Watermark
from tests.clock import ManualClock

MIN = 60_000


def test_broadcasts_only_when_a_new_bucket_is_entered() -> None:
    mark = Watermark(MIN)
    mark.advance(30_000)
    assert not mark.due(force=True)  # still in bucket 0
    mark.advance(MIN + 1)
    assert mark.due(force=True)
    mark.advance(MIN + 2)
    assert not mark.due(force=True)


def test_never_moves_backwards() -> None:
    mark = Watermark(MIN)
    mark.advance(5 * MIN)
    mark.advance(2 * MIN)
    assert mark.time == 5 * MIN


def test_rate_limited_unless_forced() -> None:
    clock = ManualClock()
    mark = Watermark(MIN, clock=clock)
    mark.advance(2 * MIN)
    assert mark.due()
    mark.advance(3 * MIN)
    clock.now += Watermark.MIN_INTERVAL_S * 0.9
    assert not mark.due()  # within the minimum interval
    assert mark.due(force=True)  # the timer sends the held-back tick
    mark.advance(4 * MIN)
    clock.now += Watermark.MIN_INTERVAL_S
    assert mark.due()  # the interval has passed
