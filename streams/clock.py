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
