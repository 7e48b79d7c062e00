"""Predicted value: expected purchases and revenue over a horizon, expected next order.

Purchases in each half of the training horizon are learnt by online Poisson
regression on the same snapshots as the lapse classifier. Other horizons are
extrapolated geometrically with the customer's predicted second-half/first-half ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_NEXT_ORDER_DAYS = 730.0
MAX_RATIO = 1.0  # a customer's purchases are not extrapolated to grow half on half
MAX_LOG_COUNT = 6.0  # exp(6) ~ 400 purchases per horizon: a guard, not a fitted value


class PoissonRegression:
    """Log-linear count regression on standardised features, by clipped-gradient SGD."""

    def __init__(self, learning_rate: float, l2: float = 1e-5, clip: float = 5.0) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.clip = clip
        self.weights: dict[str, float] = {}
        self.intercept = 0.0

    def _raw(self, z: dict[str, float]) -> float:
        w = self.weights
        raw = self.intercept + sum(w[k] * v for k, v in z.items() if k in w)
        return max(-3 * MAX_LOG_COUNT, min(MAX_LOG_COUNT, raw))

    def predict_one(self, z: dict[str, float]) -> float:
        return math.exp(self._raw(z))

    def learn_one(self, z: dict[str, float], y: float) -> None:
        g = max(-self.clip, min(self.clip, math.exp(self._raw(z)) - y))
        lr, l2, w = self.learning_rate, self.l2, self.weights
        for k, v in z.items():
            wk = w.get(k, 0.0)
            w[k] = wk - lr * (g * v + l2 * wk)
        self.intercept -= lr * g


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
    """Expected purchases in each half of the training horizon, given standardised features.

    Two Poisson regressions (first half, second half) learn from every resolved snapshot;
    their ratio is the customer's own decay, used to extrapolate to other horizons.
    """

    def __init__(
        self, horizon_days: float, *, learning_rate: float = 0.005, warmup: int = 200
    ) -> None:
        self.horizon_days = horizon_days
        self.early_model = PoissonRegression(learning_rate)
        self.late_model = PoissonRegression(learning_rate)
        self.warmup = warmup
        self.learnt = 0
        self.early = 0.0  # purchases in the first half of resolved horizons
        self.late = 0.0  # purchases in the second half
        self.abs_error = 0.0  # prequential MAE numerator over the horizon
        self.scored = 0
        self.order_value_sum = 0.0
        self.order_value_n = 0

    @property
    def half_ratio(self) -> float:
        """The population's purchases in a horizon's second half per purchase in its first."""
        return (self.late + 1.0) / (self.early + 1.0)

    @property
    def mae(self) -> float:
        return self.abs_error / self.scored if self.scored else float("nan")

    def forecast(self, z: dict[str, float], prior: float) -> Forecast:
        """Expected purchases per half-horizon; ``prior`` (over the horizon) before learning."""
        half = prior / 2.0
        early, late = half, half
        if self.learnt:
            w = self.learnt / (self.learnt + self.warmup)
            early = w * self.early_model.predict_one(z) + (1.0 - w) * half
            late = w * self.late_model.predict_one(z) + (1.0 - w) * half
        ratio = min(MAX_RATIO, late / early) if early > 0 else 1.0
        return Forecast(first_half=early, ratio=ratio, half_days=self.horizon_days / 2.0)

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
        self, z: dict[str, float], purchases: int, early: int, predicted: float | None = None
    ) -> None:
        """Learn the purchase counts of one resolved horizon (``early``: in its first half)."""
        if predicted is not None:
            self.abs_error += abs(predicted - purchases)
            self.scored += 1
        self.early_model.learn_one(z, float(early))
        self.late_model.learn_one(z, float(purchases - early))
        self.early += early
        self.late += purchases - early
        self.learnt += 1
