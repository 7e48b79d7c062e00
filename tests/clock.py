"""A clock for tests of code that takes one (``clock=`` parameters default to the real one)."""

from __future__ import annotations


class ManualClock:
    """Seconds that pass only when a test moves ``now``.

    >>> clock = ManualClock(100.0)
    >>> clock.now += 0.5
    >>> clock()
    100.5
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
