"""Exponential time decay without touching every count on every event.

Forward decay (Cormode et al., 2009): an event at time ``t`` adds
``weight * exp(rate * (t - origin))`` instead of shrinking every stored count.
Counts stored this way compare exactly like exponentially decayed counts. When
the boost grows large, the owner rescales its counts and the origin moves.
"""

from __future__ import annotations

import math

DAY_MS = 86_400_000
_RESCALE_AT = 200.0  # exp(200) ~ 7e86: rescale long before floats overflow


class ForwardDecay:
    """The boost an event at a given event time carries; no decay if the half-life is None."""

    __slots__ = ("origin_ms", "rate")

    def __init__(self, half_life_days: float | None) -> None:
        self.rate = math.log(2) / (half_life_days * DAY_MS) if half_life_days else 0.0
        self.origin_ms: int | None = None

    def boost(self, time_ms: int) -> float:
        """Multiplier for an increment made at ``time_ms``."""
        if not self.rate:
            return 1.0
        if self.origin_ms is None:
            self.origin_ms = time_ms
        return math.exp(self.rate * (time_ms - self.origin_ms))

    def rescale_due(self, time_ms: int) -> bool:
        """Whether the boost at ``time_ms`` is large enough to rescale stored counts."""
        return bool(self.rate) and self.origin_ms is not None and (
            self.rate * (time_ms - self.origin_ms) > _RESCALE_AT
        )

    def rescale(self, time_ms: int) -> float:
        """Move the origin to ``time_ms``; returns the factor to multiply stored counts by."""
        if not self.rate or self.origin_ms is None:
            return 1.0
        factor = math.exp(-self.rate * (time_ms - self.origin_ms))
        self.origin_ms = time_ms
        return factor
