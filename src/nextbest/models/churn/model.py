"""The churn model: lapse risk with delayed labels, plus predicted value.

Usage (event time throughout, epoch ms)::

    model = ChurnModel(horizon_days=90)
    model.observe(cid, inputs, now)      # score and keep a snapshot for its delayed label
    model.purchase(cid, t, amount)       # snapshots before t become "retained"
    model.advance(watermark)             # snapshots older than the horizon become "lapsed"
    model.score(inputs, now).risk        # P(no purchase within the horizon)

A snapshot's label is known at the first purchase inside its horizon, but it is
learnt when the horizon ends (with the purchases counted for the value model), so
retained and lapsed labels reach the learner in the proportion they occur.
Learning "retained" at the purchase instead feeds the learner those labels a
horizon ahead of the "lapsed" ones, which on the CDNOW replay lowered the AUC and
left the probabilities badly miscalibrated.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import deque
from dataclasses import dataclass

from nextbest.models.churn.classifier import LapseClassifier
from nextbest.models.churn.features import (
    DAY_MS,
    FEATURES,
    Baseline,
    ChurnInputs,
    Standardiser,
    baseline,
    extract,
)
from nextbest.models.churn.labels import DelayedLabels, Outcome, Snapshot
from nextbest.models.churn.value import Forecast, ValueModel

DEFAULT_GAP_DAYS = 30.0
RESOLVED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class ChurnScore:
    """One customer's churn risk and predicted value at one time.

    ``risk`` is P(no purchase within the model's training horizon); ``expected_orders``
    and ``expected_value`` cover ``horizon_days``; ``next_order_at`` is epoch ms or None.
    """

    risk: float
    expected_orders: float
    expected_value: float
    next_order_at: int | None
    horizon_days: float
    features: dict[str, float]


class ChurnModel:
    """Online lapse classifier and value model fed by delayed labels."""

    def __init__(
        self,
        *,
        horizon_days: float = 90.0,
        value_horizon_days: float | None = None,
        per_customer: int = 6,
        max_pending: int = 250_000,
        learning_rate: float = 0.005,
        window: int = 2_000,
        warmup: int = 200,
        seed: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.value_horizon_days = value_horizon_days or horizon_days
        self.labels = DelayedLabels(
            int(horizon_days * DAY_MS), per_customer=per_customer, max_pending=max_pending
        )
        self.standardiser = Standardiser()
        self.classifier = LapseClassifier(
            learning_rate=learning_rate, window=window, warmup=warmup
        )
        self.value = ValueModel(
            horizon_days, learning_rate=learning_rate, window=window, warmup=warmup
        )
        self._rng = random.Random(seed)
        self.resolved: deque[tuple[float, bool]] = deque(maxlen=RESOLVED_KEPT)
        """(risk predicted at the snapshot, lapsed) of the labels learnt lately, oldest first:
        the prequential record, drained by whoever reports quality."""
        self._gap_sum = 0.0
        self._gap_n = 0

    @property
    def prior_gap_days(self) -> float:
        """The population's usual gap between orders, from the customers observed so far."""
        return self._gap_sum / self._gap_n if self._gap_n else DEFAULT_GAP_DAYS

    def score(
        self, inputs: ChurnInputs, now_ms: int, *, horizon_days: float | None = None
    ) -> ChurnScore:
        """Risk, expected orders/revenue over ``horizon_days`` and the expected next order."""
        base = baseline(inputs, now_ms, self.prior_gap_days)
        x = extract(inputs, now_ms, self.prior_gap_days, base)
        z = self.standardiser.transform(x)
        risk = self.classifier.predict(z, self._prior_risk(base))
        forecast = self.value.forecast(z, self._prior_count(base), base.orders)
        days = horizon_days or self.value_horizon_days
        orders = forecast.orders(days)
        order_value = self.value.order_value(base.orders, base.order_value)
        return ChurnScore(
            risk=risk,
            expected_orders=orders,
            expected_value=orders * order_value,
            next_order_at=self._next_order_at(base, inputs, now_ms, forecast),
            horizon_days=days,
            features=x,
        )

    def observe(self, customer_id: str, inputs: ChurnInputs, now_ms: int) -> ChurnScore:
        """Score the customer and keep the snapshot (if the memory bounds allow) for its label."""
        if inputs.gap_count > 0:
            self._gap_sum += inputs.gap_mean_ms / DAY_MS
            self._gap_n += 1
        result = self.score(inputs, now_ms, horizon_days=self.horizon_days)
        if self.labels.accepts(customer_id, now_ms):
            snap = Snapshot(
                taken_at=now_ms,
                features=array("d", (result.features[name] for name in FEATURES)),
                risk=result.risk,
                expected=result.expected_orders,
                warm=self.classifier.learnt >= self.classifier.warmup,
            )
            self.labels.add(customer_id, snap)
        return result

    def wants_snapshot(self, customer_id: str, now_ms: int) -> bool:
        """Whether ``observe`` at ``now_ms`` would keep a snapshot (lets sweeps skip the rest)."""
        return self.labels.accepts(customer_id, now_ms)

    def purchase(self, customer_id: str, time_ms: int, amount: float = 0.0) -> int:
        """Record a purchase: pending snapshots before it become retained; returns how many."""
        if amount > 0:
            self.value.see_order(amount)
        return len(self.labels.purchase(customer_id, time_ms, amount))

    def advance(self, now_ms: int) -> int:
        """Move event time on: snapshots whose horizon passed are learnt; returns how many."""
        outcomes = self.labels.advance(now_ms)
        self._learn(outcomes)
        return len(outcomes)

    def forget(self, customer_id: str) -> int:
        """Erase the customer's pending snapshots; returns how many were dropped."""
        return self.labels.forget(customer_id)

    def stats(self) -> dict[str, object]:
        """Learning counts, calibration (Brier, ECE, log loss) and value error so far."""
        return {
            "labels_learnt": self.classifier.learnt,
            "counts_learnt": self.value.learnt,
            "pending": len(self.labels),
            "skipped_snapshots": self.labels.skipped,
            "calibration": self.classifier.calibration.summary(),
            "horizon_orders_mae": round(self.value.mae, 4),
            "half_ratio": round(self.value.half_ratio, 4),
            "order_value": round(self.value.order_value(0, None), 2),
            "prior_gap_days": round(self.prior_gap_days, 2),
        }

    def _learn(self, outcomes: list[Outcome]) -> None:
        if len(outcomes) > 1:
            self._rng.shuffle(outcomes)  # labels resolved together must not arrive sorted
        for outcome in outcomes:
            snap = outcome.snapshot
            x = dict(zip(FEATURES, snap.features, strict=True))
            self.standardiser.learn(x)
            z = self.standardiser.transform(x)
            self.classifier.learn(z, outcome.lapsed, snap.risk if snap.warm else None)
            self.resolved.append((snap.risk, outcome.lapsed))
            expected = snap.expected if snap.warm else None
            orders = round(math.expm1(x["log_orders"]))
            self.value.learn(z, snap.purchases, snap.early_purchases, expected, orders)

    def _prior_count(self, base: Baseline) -> float:
        """Rule of thumb before learning: purchases in H at rate 1 / (usual gap + recency)."""
        return self.horizon_days / (base.usual_gap_days + base.days_since_last)

    def _prior_risk(self, base: Baseline) -> float:
        """Rule of thumb before learning: P(no purchase in H) at that rate."""
        return math.exp(-self._prior_count(base))

    def _next_order_at(
        self, base: Baseline, inputs: ChurnInputs, now_ms: int, forecast: Forecast
    ) -> int | None:
        """The usual rhythm while the customer is within it, else when E[orders] reaches one."""
        if inputs.last_order_at is not None and base.days_since_last < base.usual_gap_days:
            return inputs.last_order_at + int(base.usual_gap_days * DAY_MS)
        days = forecast.days_to_next()
        return None if days is None else now_ms + int(days * DAY_MS)
