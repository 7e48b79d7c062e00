"""Predicted value: expected purchases and revenue over a horizon, expected next order.

Purchases within the training horizon are learnt by online Poisson regression on
the same snapshots as the lapse classifier. Other horizons are extrapolated
geometrically with the measured decay of customers with about as many orders:
purchases in the second half of resolved horizons per purchase in their first half
(heavy buyers' purchases decay more slowly than one-time buyers'). (A per-customer
ratio, from two regressions, one per half, ranked and fitted worse on the CDNOW
replay; so did segments by the predicted count instead of the orders.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nextbest.models.churn.linear import OnlineGLM

MAX_NEXT_ORDER_DAYS = 730.0
MAX_RATIO = 1.0  # purchases are not extrapolated to grow half on half
SEGMENT_ORDERS = (1, 2, 4, 8)
"""The decay is measured apart for customers with up to 1, 2, 4, 8 and more orders."""
SEGMENT_PRIOR = 50.0
"""A segment's decay is shrunk towards the population's by this many purchases."""
COUNT_CLIP = 20.0
"""The Poisson regression's gradient clip, in purchases: a heavy buyer's count may lie far above
the prediction, and a tighter clip (the lapse classifier's 5) kept heavy buyers' forecasts low."""


def segment(orders: int) -> int:
    """The decay segment of a customer with ``orders`` orders so far.

    >>> [segment(n) for n in (0, 1, 2, 3, 4, 5, 9)]
    [0, 0, 1, 2, 2, 3, 4]
    """
    for index, bound in enumerate(SEGMENT_ORDERS):
        if orders <= bound:
            return index
    return len(SEGMENT_ORDERS)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Expected purchases in the first half of the training horizon and the half-on-half ratio.

    Purchases in successive half-horizons are extrapolated geometrically with ``ratio``.
    """

    first_half: float
    ratio: float
    half_days: float

    @property
    def in_horizon(self) -> float:
        return self.first_half * (1.0 + self.ratio)

    def orders(self, days: float) -> float:
        """Expected purchases over the next ``days``."""
        halves = days / self.half_days
        if self.ratio >= 1.0:
            return self.first_half * halves
        return self.first_half * (1.0 - self.ratio**halves) / (1.0 - self.ratio)

    def days_to_next(self) -> float | None:
        """Days until the expected purchase count reaches one; None beyond two years."""
        if self.first_half <= 0.0:
            return None
        if self.ratio >= 1.0:
            halves = 1.0 / self.first_half
        else:
            left = 1.0 - (1.0 - self.ratio) / self.first_half
            if left <= 0.0:
                return None
            halves = math.log(left) / math.log(self.ratio)
        days = halves * self.half_days
        return days if days <= MAX_NEXT_ORDER_DAYS else None


class ValueModel:
    """Expected purchases in the training horizon given standardised features, and the decay."""

    def __init__(
        self,
        horizon_days: float,
        *,
        learning_rate: float = 0.005,
        window: int = 2_000,
        warmup: int = 200,
    ) -> None:
        self.horizon_days = horizon_days
        self.model = OnlineGLM("log", learning_rate=learning_rate, window=window,
                               clip=COUNT_CLIP)
        self.warmup = warmup
        self.learnt = 0
        self.early = 0.0  # purchases in the first half of resolved horizons
        self.late = 0.0  # purchases in the second half
        self.segment_early = [0.0] * (len(SEGMENT_ORDERS) + 1)
        self.segment_late = [0.0] * (len(SEGMENT_ORDERS) + 1)
        self.abs_error = 0.0  # prequential MAE numerator over the horizon
        self.scored = 0
        self.order_value_sum = 0.0
        self.order_value_n = 0

    def __setstate__(self, state: dict[str, object]) -> None:
        # Checkpoints from before the segments and the wider clip.
        segments = [0.0] * (len(SEGMENT_ORDERS) + 1)
        self.__dict__.update({"segment_early": segments, "segment_late": list(segments),
                              **state})
        self.model.clip = max(self.model.clip, COUNT_CLIP)

    @property
    def half_ratio(self) -> float:
        """The population's purchases in a horizon's second half per purchase in its first."""
        return min(MAX_RATIO, (self.late + 1.0) / (self.early + 1.0))

    def segment_ratio(self, orders: int) -> float:
        """Half-on-half decay among customers with as many orders as this one, shrunk towards
        the population's."""
        index = segment(orders)
        prior = self.half_ratio
        early = self.segment_early[index]
        return min(MAX_RATIO, (self.segment_late[index] + SEGMENT_PRIOR * prior)
                   / (early + SEGMENT_PRIOR))

    @property
    def mae(self) -> float:
        return self.abs_error / self.scored if self.scored else float("nan")

    def forecast(self, z: dict[str, float], prior: float, orders: int | None = None) -> Forecast:
        """Expected purchases per half-horizon; ``prior`` (over the horizon) before learning."""
        expected = prior
        if self.learnt:
            w = self.learnt / (self.learnt + self.warmup)
            expected = w * self.model.predict(z) + (1.0 - w) * prior
        ratio = self.half_ratio if orders is None else self.segment_ratio(orders)
        return Forecast(
            first_half=expected / (1.0 + ratio), ratio=ratio, half_days=self.horizon_days / 2.0
        )

    def order_value(self, orders: int, own: float | None) -> float:
        """The customer's mean order value, shrunk towards the population's (one order's weight)."""
        population = self.order_value_sum / self.order_value_n if self.order_value_n else 0.0
        if own is None or orders <= 0:
            return population
        if not self.order_value_n:
            return own
        return (orders * own + population) / (orders + 1)

    def see_order(self, amount: float) -> None:
        """Track the population's order value."""
        self.order_value_sum += amount
        self.order_value_n += 1

    def learn(
        self, z: dict[str, float], purchases: int, early: int, predicted: float | None = None,
        orders: int | None = None,
    ) -> None:
        """Learn the purchase counts of one resolved horizon (``early``: in its first half)."""
        if predicted is not None:
            self.abs_error += abs(predicted - purchases)
            self.scored += 1
        self.model.learn(z, float(purchases))
        self.early += early
        self.late += purchases - early
        if orders is not None:
            self.segment_early[segment(orders)] += early
            self.segment_late[segment(orders)] += purchases - early
        self.learnt += 1
