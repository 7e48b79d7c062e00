from __future__ import annotations

from nextbest.streams.clock import PartitionClock, Watermark
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


def test_a_partition_wakes_by_the_slowest_router_still_heard_from() -> None:
    clock = ManualClock()
    partition = PartitionClock(quiet=5.0, clock=clock)
    partition.see("a", 10 * MIN)
    partition.see("b", 4 * MIN)
    assert partition.settle() == 4 * MIN  # b's events up to 10 min may still be coming
    clock.now += 3
    partition.see("a", 12 * MIN)
    partition.see("b", 9 * MIN)
    assert partition.settle() == 9 * MIN
    clock.now += 3  # b quiet for 3 s: still counts
    partition.see("a", 14 * MIN)
    assert partition.settle() == 9 * MIN
    clock.now += 3  # b quiet for 6 s: routes nothing or is gone
    partition.see("a", 15 * MIN)
    assert partition.settle() == 15 * MIN
    partition.see("b", 11 * MIN)  # b back, behind: the partition's time does not go back
    assert partition.settle() == 15 * MIN


def test_every_router_quiet_settles_all_it_saw() -> None:
    clock = ManualClock()
    partition = PartitionClock(quiet=5.0, clock=clock)
    partition.see("a", 7 * MIN)
    partition.see("b", 5 * MIN)
    assert partition.settle() == 5 * MIN
    clock.now += 6
    assert partition.settle() == 7 * MIN
