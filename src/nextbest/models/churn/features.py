"""Churn features measured against the customer's own baseline, plus plain RFM.

The extractor reads a small plain ``ChurnInputs`` (built by the caller from its
customer profile) and returns a fixed set of float features; it never mutates
its input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from river import preprocessing

DAY_MS = 86_400_000
ORDER_WINDOW_DAYS = 60  # frequency compression: last 60 days against the 60 before
EMAIL_WINDOW_DAYS = 45  # engagement trend: last 45 days against the 45 before
SUPPORT_WINDOW_DAYS = 30  # support spike: last 30 days against the customer's own rate before
ORDER_HISTORY_DAYS = 2 * ORDER_WINDOW_DAYS  # how far back ``order_times`` must reach
EMAIL_HISTORY_DAYS = 2 * EMAIL_WINDOW_DAYS
MAX_Z = 5.0  # standardised values are clipped so a feature's early tiny variance cannot explode

FEATURES: tuple[str, ...] = (
    "log_orders",
    "repeat",
    "log_recency",
    "log_tenure",
    "idle_share",
    "overdue",
    "overdue_pos",
    "log_rate",
    "orders_recent",
    "orders_prior",
    "compression",
    "frequency_drop",
    "log_order_value",
    "email_open_rate",
    "email_open_trend",
    "email_click_trend",
    "support_recent",
    "support_spike",
    "sentiment",
    "sentiment_known",
)


@dataclass(frozen=True, slots=True)
class ChurnInputs:
    """What the churn model needs to know about one customer; times are epoch ms.

    ``order_times`` holds the customer's order times from at least the last 120 days
    (older entries are ignored); ``email_*`` hold send/open/click times from at least
    the last 90 days; ``support_contacts`` holds recent support-contact times.
    ``sentiment`` is the recent conversations' sentiment in [-1, 1], or None.
    """

    orders: int = 0
    revenue: float = 0.0
    first_order_at: int | None = None
    last_order_at: int | None = None
    gap_count: int = 0
    gap_mean_ms: float = 0.0
    order_times: Sequence[int] = ()
    email_sends: Sequence[int] = ()
    email_opens: Sequence[int] = ()
    email_clicks: Sequence[int] = ()
    support_contacts: Sequence[int] = ()
    sentiment: float | None = None
    first_seen_at: int | None = None


@dataclass(frozen=True, slots=True)
class Baseline:
    """The raw quantities (in days) behind the features, for priors and value."""

    orders: int
    days_since_last: float
    tenure_days: float
    usual_gap_days: float
    order_value: float | None


def _windows(times: Sequence[int], now_ms: int, window: int) -> tuple[int, int]:
    """How many times fall in (now - window, now] and how many in (now - 2 window, now -
    window]: the last window and the one before, in one pass."""
    recent = prior = 0
    if times:
        middle = now_ms - window
        start = now_ms - 2 * window
        for t in times:
            if t > middle:
                if t <= now_ms:
                    recent += 1
            elif t > start:
                prior += 1
    return recent, prior


def _trend(recent: float, prior: float) -> float:
    """Symmetric change in [-1, 1]: -1 all gone, 0 flat, +1 all new."""
    total = recent + prior
    return 0.0 if total <= 0 else (recent - prior) / total


def usual_gap_days(inputs: ChurnInputs, prior_gap_days: float, prior_weight: float = 1.0) -> float:
    """The customer's own mean gap between orders, shrunk towards the population's."""
    own = inputs.gap_mean_ms / DAY_MS if inputs.gap_count > 0 else 0.0
    n = max(0, inputs.gap_count)
    return (n * own + prior_weight * prior_gap_days) / (n + prior_weight)


def baseline(inputs: ChurnInputs, now_ms: int, prior_gap_days: float) -> Baseline:
    """Recency, tenure and usual gap in days at ``now_ms``."""
    start = inputs.first_order_at if inputs.first_order_at is not None else inputs.first_seen_at
    tenure = max(0.0, (now_ms - start) / DAY_MS) if start is not None else 0.0
    last = inputs.last_order_at
    since = max(0.0, (now_ms - last) / DAY_MS) if last is not None else tenure
    value = inputs.revenue / inputs.orders if inputs.orders > 0 else None
    return Baseline(
        orders=max(0, inputs.orders),
        days_since_last=since,
        tenure_days=tenure,
        usual_gap_days=max(1.0, usual_gap_days(inputs, prior_gap_days)),
        order_value=value,
    )


def extract(
    inputs: ChurnInputs, now_ms: int, prior_gap_days: float, base: Baseline | None = None
) -> dict[str, float]:
    """The feature dict (keys ``FEATURES``) for ``inputs`` at ``now_ms``.

    ``prior_gap_days`` is the population's usual gap, used for customers with few gaps;
    ``base`` is ``baseline(inputs, now_ms, prior_gap_days)`` if the caller has it.
    """
    if base is None:
        base = baseline(inputs, now_ms, prior_gap_days)
    since, tenure, gap = base.days_since_last, base.tenure_days, base.usual_gap_days
    overdue = max(-4.0, min(4.0, math.log((since + 1.0) / (gap + 1.0))))

    recent, prior = _windows(inputs.order_times, now_ms, ORDER_WINDOW_DAYS * DAY_MS)
    compression = _trend(recent, prior)

    email_window = EMAIL_WINDOW_DAYS * DAY_MS
    sends_recent, sends_prior = _windows(inputs.email_sends, now_ms, email_window)
    opens_recent, opens_prior = _windows(inputs.email_opens, now_ms, email_window)
    clicks_recent, clicks_prior = _windows(inputs.email_clicks, now_ms, email_window)

    def rate(hits: int, sends: int) -> float:
        return min(1.0, hits / sends) if sends > 0 else 0.0

    if sends_recent and sends_prior:  # open rates per email sent, when the sends are known
        open_trend = rate(opens_recent, sends_recent) - rate(opens_prior, sends_prior)
    else:  # opens of emails sent elsewhere: the change in how many
        open_trend = _trend(opens_recent, opens_prior)

    support_recent = support_before = 0  # in (now - window, now], and up to its start
    support_start = now_ms - SUPPORT_WINDOW_DAYS * DAY_MS
    for t in inputs.support_contacts:
        if t <= support_start:
            support_before += 1
        elif t <= now_ms:
            support_recent += 1
    before_days = max(SUPPORT_WINDOW_DAYS, tenure - SUPPORT_WINDOW_DAYS)
    expected_support = support_before * SUPPORT_WINDOW_DAYS / before_days

    repeats = max(0, base.orders - 1)
    return {
        "log_orders": math.log1p(base.orders),
        "repeat": 1.0 if base.orders >= 2 else 0.0,
        "log_recency": math.log1p(since),
        "log_tenure": math.log1p(tenure),
        "idle_share": since / (tenure + 1.0),
        "overdue": overdue,
        "overdue_pos": max(0.0, overdue),
        "log_rate": math.log((repeats + 1.0) / (tenure + gap)),
        "orders_recent": math.log1p(recent),
        "orders_prior": math.log1p(prior),
        "compression": compression,
        "frequency_drop": 1.0 if prior > 0 and recent <= 0.6 * prior else 0.0,
        "log_order_value": math.log1p(max(0.0, base.order_value or 0.0)),
        "email_open_rate": rate(opens_recent, sends_recent),
        "email_open_trend": open_trend,
        "email_click_trend": _trend(clicks_recent, clicks_prior),
        "support_recent": math.log1p(support_recent),
        "support_spike": max(0.0, support_recent - expected_support),
        "sentiment": inputs.sentiment if inputs.sentiment is not None else 0.0,
        "sentiment_known": 0.0 if inputs.sentiment is None else 1.0,
    }


class Standardiser:
    """Online standard scaling (River) with standardised values clipped to +-``MAX_Z``."""

    def __init__(self) -> None:
        self.scaler = preprocessing.StandardScaler()

    def learn(self, x: dict[str, float]) -> None:
        self.scaler.learn_one(x)

    def transform(self, x: dict[str, float]) -> dict[str, float]:
        scaler = self.scaler
        if scaler.window_size is not None or not scaler.with_std:
            z = scaler.transform_one(x)
            return {k: -MAX_Z if v < -MAX_Z else MAX_Z if v > MAX_Z else v for k, v in z.items()}
        # River's transform_one for this scaler (the same reads, the same arithmetic), clipped
        # in the same pass
        means, variances = scaler.means, scaler.vars
        out: dict[str, float] = {}
        for k, xk in x.items():
            var = variances[k]
            v = (xk - means[k]) / var**0.5 if var else 0.0
            out[k] = -MAX_Z if v < -MAX_Z else MAX_Z if v > MAX_Z else v
        return out
