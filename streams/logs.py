"""The worker's log while a dependency is away: one line per kind of failure now and then, not
hundreds a second.

aiokafka logs every failed connection, metadata refresh, fetch and heartbeat of every client -
with the broker down, a worker's eight clients wrote about 370 error lines a second. The first
line of each kind goes out as it comes; the same kind again within ``interval`` seconds is
counted instead, and the next line of that kind says how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

QUIETED = ("aiokafka", "redis")
"""Loggers (and their children) whose repeated lines are thinned."""


class RepeatedLines(logging.Filter):
    def __init__(self, interval: float = 10.0, *, prefixes: tuple[str, ...] = QUIETED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.prefixes = prefixes
        self.clock = clock
        self._last: dict[tuple[str, int, str], float] = {}
        self._left_out: dict[tuple[str, int, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if not any(name == p or name.startswith(p + ".") for p in self.prefixes):
            return True
        kind = (name, record.levelno, str(record.msg))  # the template: one kind, any arguments
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return False
        self._last[kind] = now
        left_out = self._left_out.pop(kind, 0)
        if left_out:
            record.msg = f"{record.msg} ({left_out} more like this in the last " \
                         f"{now - last if last is not None else 0:.0f} s not logged)"
        return True


def thin_repeated_lines(interval: float = 10.0) -> RepeatedLines:
    """Install the filter on the root logger's handlers (where every record ends up)."""
    thinning = RepeatedLines(interval)
    for handler in logging.getLogger().handlers:
        handler.addFilter(thinning)
    return thinning
