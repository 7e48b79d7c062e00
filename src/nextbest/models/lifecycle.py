"""How the models are doing while they learn: prequential quality, drift and cost.

Prequential ("predict, then learn") evaluation scores every labelled example *before* the model
learns it, so the running figure is an honest estimate of quality on unseen data. A drift
detector (ADWIN) watches the same error stream and counts an alarm when the error rate shifts.

>>> q = Prequential("sentiment", window=4)
>>> for hit in (True, True, False, True):
...     alarm = q.record(hit)
>>> q.quality, q.seen
(0.75, 4)
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from river import drift


@dataclass
class Prequential:
    """Rolling prequential quality (share of hits over ``window``) with drift alarms."""

    name: str
    window: int = 1_000
    seen: int = 0
    drift_alarms: int = 0
    _hits: deque[bool] = field(default_factory=deque, repr=False)
    _detector: drift.ADWIN = field(default_factory=lambda: drift.ADWIN(delta=0.002), repr=False)

    def record(self, hit: bool) -> bool:
        """Record one prequential outcome; True when it raised a drift alarm."""
        self.seen += 1
        self._hits.append(hit)
        if len(self._hits) > self.window:
            self._hits.popleft()
        self._detector.update(0.0 if hit else 1.0)
        if self._detector.drift_detected:
            self.drift_alarms += 1
            return True
        return False

    @property
    def quality(self) -> float | None:
        return sum(self._hits) / len(self._hits) if self._hits else None


@dataclass
class Cost:
    """Per-event learn+score cost of one model in microseconds (decayed mean and last)."""

    name: str
    mean_us: float = 0.0
    last_us: float = 0.0
    events: int = 0
    alpha: float = 0.01

    def measure(self) -> _Measure:
        """``with cost.measure(): ...`` adds the block's duration (a plain context manager:
        a generator-based one cost about a microsecond per use on the hot path)."""
        return _Measure(self)

    def add(self, us: float) -> None:
        self.events += 1
        self.last_us = us
        weight = max(self.alpha, 1.0 / self.events)
        self.mean_us += (us - self.mean_us) * weight


class _Measure:
    __slots__ = ("cost", "started")

    def __init__(self, cost: Cost) -> None:
        self.cost = cost
        self.started = 0

    def __enter__(self) -> None:
        self.started = time.perf_counter_ns()

    def __exit__(self, *exc: object) -> None:
        self.cost.add((time.perf_counter_ns() - self.started) / 1_000)
