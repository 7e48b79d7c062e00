"""When customers read their email: the local hours of their opens, their own (the profile's
open times) and everyone's (:class:`OpenHours`, learnt by every worker from the opens'
lessons), and the hour a message to one customer is best sent at.

A customer's own opens are few at first, so their hours are shrunk towards the population's
shape: ``PRIOR_OPENS`` opens' worth of it, then each open of their own counts one. An open also
counts half for the hours either side of it and a quarter two hours away (a habit of 19:00
shows up at 18:xx and 20:xx too, and one in quiet hours points at the nearest hour outside).

>>> population = OpenHours()
>>> for hour in [8] * 30 + [20] * 10:
...     population.add(hour)
>>> scores = hour_scores([], population)
>>> max(range(24), key=scores.__getitem__)  # nothing of their own: the population's hour
8
>>> scores = hour_scores([20, 20, 21, 20, 19], population)
>>> max(range(24), key=scores.__getitem__)  # five opens of their own outweigh it
20
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

HOURS = 24
PRIOR_OPENS = 4.0
"""How many of a customer's own opens the population's shape is worth."""
NEIGHBOURS = ((1, 0.5), (2, 0.25))
"""How much an open at one hour counts for the hours 1 and 2 either side."""
POPULATION_MEMORY = 20_000.0
"""Opens the population histogram holds at most: older ones fade (halved when it is full)."""


def local_hour(ms: int, tz: ZoneInfo) -> int:
    """The hour of the day (0-23) on the customer's clock at epoch ``ms``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).hour


def _smoothed(counts: list[float]) -> list[float]:
    return [counts[h] + sum(w * (counts[(h - d) % HOURS] + counts[(h + d) % HOURS])
                            for d, w in NEIGHBOURS) for h in range(HOURS)]


@dataclass
class OpenHours:
    """Email opens over all customers by local hour (decayed counts)."""

    counts: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    total: float = 0.0

    def add(self, hour: int) -> None:
        self.counts[hour % HOURS] += 1.0
        self.total += 1.0
        if self.total > POPULATION_MEMORY:
            self.counts = [c / 2 for c in self.counts]
            self.total /= 2

    def shares(self) -> list[float] | None:
        """Each hour's share of the (smoothed) opens; None before any."""
        if self.total <= 0:
            return None
        smoothed = _smoothed(self.counts)
        whole = sum(smoothed)
        return [c / whole for c in smoothed]


def hour_scores(own_hours: Iterable[int], population: OpenHours) -> list[float] | None:
    """How likely the customer reads email at each local hour (unnormalised); None when
    neither they nor anyone else opened any yet."""
    counts = [0.0] * HOURS
    for hour in own_hours:
        counts[hour % HOURS] += 1.0
    shares = population.shares()
    if shares is None and not any(counts):
        return None
    scores = _smoothed(counts)
    if shares is not None:
        scores = [s + PRIOR_OPENS * p for s, p in zip(scores, shares, strict=True)]
    return scores
