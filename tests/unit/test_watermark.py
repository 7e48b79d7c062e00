from __future__ import annotations

from nextbest.streams.clock import Watermark

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
    mark = Watermark(MIN)
    mark.advance(2 * MIN)
    assert mark.due()
    mark.advance(3 * MIN)
    assert not mark.due()  # within the minimum interval
    assert mark.due(force=True)  # the timer sends the held-back tick
