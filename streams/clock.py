"""Event time for the customer stage: the watermark the routers carry to every partition."""

from __future__ import annotations

import time
from collections import deque
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


class Settled:
    """Event time as a customer partition had seen it ``grace`` seconds ago (wall clock).

    The partition's clock is the latest event time it has seen; a customer whose moment it
    passes is woken. Events that happened alongside may still be on their way (fetched from
    another input partition a moment later, or held for the identity writer), so wakes go by
    the clock as it stood a little while ago: what arrives within the grace is applied before
    the moment it precedes, as a replay in event-time order would.
    """

    def __init__(self, grace: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace = grace
        self.clock = clock
        self.latest = 0
        """The latest event time seen."""
        self.time = 0
        """The latest event time seen at least ``grace`` seconds ago."""
        self._seen: deque[tuple[float, int]] = deque()

    def see(self, event_time: int) -> None:
        if event_time <= self.latest:
            return
        self.latest = event_time
        if self.grace <= 0:
            self.time = event_time
        else:
            self._seen.append((self.clock(), event_time))

    def settle(self) -> int:
        """Event time as it stood ``grace`` seconds ago."""
        seen = self._seen
        if seen:
            cutoff = self.clock() - self.grace
            while seen and seen[0][0] <= cutoff:
                self.time = seen.popleft()[1]
        return self.time


SOURCE_QUIET_SECONDS = 5.0
"""A router not heard from for this long (wall clock) no longer holds a partition's wakes back:
it has nothing to route, or it is gone."""


class PartitionClock:
    """The event time by which a customer partition wakes its customers.

    Each router feeding the partition (each worker's) routes events and ticks in its own time;
    one may run behind another (a slower fetch, a rebalance), and a partition going by the
    fastest would wake a customer before the slower one's events of that customer arrived. So
    the partition goes by the slowest router still heard from, each router's event time
    settled for ``grace`` (:class:`Settled`). A router quiet for ``quiet`` seconds no longer
    counts; when all are quiet, everything seen has settled.
    """

    def __init__(self, grace: float, *, quiet: float = SOURCE_QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.grace = grace
        self.quiet = quiet
        self.clock = clock
        self.time = 0
        self._sources: dict[str, Settled] = {}
        self._heard: dict[str, float] = {}

    def see(self, source: str, event_time: int) -> None:
        settled = self._sources.get(source)
        if settled is None:
            settled = self._sources[source] = Settled(self.grace, clock=self.clock)
        settled.see(event_time)
        self._heard[source] = self.clock()

    def settle(self) -> int:
        """Event time every router still heard from had reached ``grace`` seconds ago (never
        going back)."""
        cutoff = self.clock() - self.quiet
        active = [s.settle() for source, s in self._sources.items()
                  if self._heard[source] > cutoff]
        if active:
            time_now = min(active)
        else:
            time_now = max((s.latest for s in self._sources.values()), default=0)
        if time_now > self.time:
            self.time = time_now
        return self.time
