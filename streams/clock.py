"""Event time for the customer stage: the watermark the routers carry to every partition."""

from __future__ import annotations

import time
from collections.abc import Callable


class Watermark:
    """The highest event time a router has routed.

    Each time it enters a new agenda bucket it is broadcast to every customer partition as a
    tick (partitions keep the highest tick of all workers), so a quiet partition's lapsed
    customers are still found - on event time, which is what makes a replay decide exactly as
    live traffic did.
    """

    MIN_INTERVAL_S = 0.2
    """Broadcast at most this often (simulated time can cross many buckets per second)."""

    def __init__(self, bucket_ms: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket_ms = bucket_ms
        self.clock = clock
        """Seconds on a monotonic clock (for the minimum interval between broadcasts)."""
        self.time = 0
        self.broadcast = 0
        self._last_wall = 0.0

    def advance(self, event_time: int) -> None:
        self.time = max(self.time, event_time)

    def due(self, *, force: bool = False) -> bool:
        """True when the watermark entered a bucket not yet broadcast (and not too soon)."""
        if self.time // self.bucket_ms <= self.broadcast // self.bucket_ms:
            return False
        now = self.clock()
        if not force and now - self._last_wall < self.MIN_INTERVAL_S:
            return False
        self._last_wall = now
        self.broadcast = self.time
        return True


SOURCE_QUIET_SECONDS = 5.0
"""A router not heard from for this long (wall clock) no longer holds a partition's wakes back:
it has nothing to route, or it is gone."""


class PartitionClock:
    """The event time by which a customer partition wakes its customers.

    Each router feeding the partition (each worker's) routes events and ticks in event-time
    order (``streams/reorder.py``) and stamps each with the event time it has routed
    everything before; one router may run behind another (a slower fetch, a rebalance), and a
    partition going by the fastest would wake a customer before the slower one's events of
    that customer arrived. So the partition goes by the slowest router still heard from. A
    router quiet for ``quiet`` seconds no longer counts; when all are quiet, everything seen
    counts.
    """

    def __init__(self, *, quiet: float = SOURCE_QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self.clock = clock
        self.time = 0
        self._latest: dict[str, int] = {}
        self._heard: dict[str, float] = {}

    def see(self, source: str, event_time: int) -> None:
        if event_time > self._latest.get(source, -1):
            self._latest[source] = event_time
        self._heard[source] = self.clock()

    def settle(self) -> int:
        """Event time every router still heard from has reached (never going back)."""
        cutoff = self.clock() - self.quiet
        active = [latest for source, latest in self._latest.items()
                  if self._heard[source] > cutoff]
        time_now = min(active) if active else max(self._latest.values(), default=0)
        if time_now > self.time:
            self.time = time_now
        return self.time
