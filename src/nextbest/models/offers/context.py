"""The customer's context for choosing an offer: a few features in [0, 1] read from the profile.

What the customer is like (orders, discount codes used, basket, value, churn risk), how long
since they last bought, where they shop (the share of their shopping on a phone and in the app),
the local time of day and their country. Every feature is a plain number so the bandit stays
linear and small; the country is one feature per country (``country:DE``), the others are
:data:`FEATURES`. :func:`describe` puts a feature back into words for the reasons a decision
carries.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from nextbest.guardrails.localtime import zone
from nextbest.profile.state import CustomerProfile

DAY_MS = 86_400_000
FEATURES = (
    "bias",
    "orders",
    "overdue",
    "discount_share",
    "order_value",
    "churn_risk",
    "value_tier",
    "premium_interest",
    "discount_used",
    "recency",
    "mobile",
    "app",
    "morning",
    "afternoon",
    "evening",
)
COUNTRY = "country:"
"""Prefix of the one feature naming the customer's country (``country:DE``)."""
ORDERS_FULL = 20
"""Orders at which the ``orders`` feature reaches 1 (it grows with the log of the count)."""
OVERDUE_CAP = 3.0
"""Silence, in multiples of the customer's usual gap, at which ``overdue`` reaches 1."""
DEFAULT_GAP_MS = 30 * DAY_MS
"""Usual gap assumed for a customer with a single order."""
PRIOR_SHARE = 0.2
PRIOR_ORDERS = 1.0
"""The discount share starts at ``PRIOR_SHARE`` as if from this many orders, so one discounted
first order does not make a customer look fully price sensitive."""
ORDER_VALUE_BANDS = (25.0, 50.0, 100.0, 200.0)
"""Average order value bands (currency units); ``order_value`` is the band's rank in [0, 1]."""
TIERS = {"low": 0.0, "middle": 0.5, "top": 1.0}
RECENCY_FULL_DAYS = 365
"""Days since the last order at which ``recency`` reaches 1 (it grows with the log)."""
TIMES_OF_DAY = (("morning", 5, 12), ("afternoon", 12, 17), ("evening", 17, 24))
"""Local hours [from, to) of each time of day; the night (0-5) sets none of them."""


def offer_context(profile: CustomerProfile, now: int,
                  default_timezone: str = "UTC") -> dict[str, float]:
    """The offer features of one customer at event time ``now`` (milliseconds); the time of day
    is the customer's (``default_timezone`` when their zone is unknown).

    >>> p = CustomerProfile("nb-1", orders=4, revenue=120.0, discounted_orders=3,
    ...                     last_order_at=0, gap_count=3, gap_mean_ms=10 * DAY_MS,
    ...                     timezone="Europe/Berlin", country="DE",
    ...                     shopping_context={"device:mobile": 3, "device:desktop": 1})
    >>> c = offer_context(p, 15 * DAY_MS + 18 * 3_600_000)  # 19:00 in Berlin
    >>> c["overdue"], c["discount_share"], c["order_value"], c["mobile"], c["evening"]
    (0.525, 0.64, 0.25, 0.75, 1.0)
    >>> c["country:DE"], c["discount_used"]
    (1.0, 1.0)
    """
    orders = profile.orders
    share = (profile.discounted_orders + PRIOR_SHARE * PRIOR_ORDERS) / (orders + PRIOR_ORDERS)
    share = min(1.0, max(0.0, share))
    value = order_value(profile.revenue / orders) if orders else 0.0
    overdue = 0.0
    if profile.last_order_at is not None:
        gap = profile.usual_gap_ms or DEFAULT_GAP_MS
        silence = max(0, now - profile.last_order_at)
        overdue = min(silence / gap, OVERDUE_CAP) / OVERDUE_CAP
    since_order = max(0, now - profile.last_order_at) if profile.last_order_at is not None else 0
    hour = datetime.fromtimestamp(now / 1000, tz=UTC).astimezone(
        zone(profile.timezone, default_timezone)).hour
    context = {
        "bias": 1.0,
        "orders": min(1.0, math.log1p(orders) / math.log1p(ORDERS_FULL)),
        "overdue": round(overdue, 6),
        "discount_share": round(share, 6),
        "order_value": value,
        "churn_risk": _share(profile.scores.get("churn_risk"), default=0.5),
        "value_tier": TIERS.get(str(profile.scores.get("value_tier")), 0.5),
        # Large baskets bought at full price: the customer an upgrade appeals to.
        "premium_interest": round((1.0 - share) * value, 6),
        "discount_used": 1.0 if profile.discounted_orders > 0 else 0.0,
        "recency": round(min(1.0, math.log1p(since_order / DAY_MS)
                             / math.log1p(RECENCY_FULL_DAYS)), 6),
        "mobile": shopping_share(profile, "device:mobile"),
        "app": shopping_share(profile, "channel:app"),
        **{name: 1.0 if start <= hour < end else 0.0 for name, start, end in TIMES_OF_DAY},
    }
    if profile.country:
        context[COUNTRY + profile.country.upper()] = 1.0
    return context


def shopping_share(profile: CustomerProfile, key: str) -> float:
    """Share of the customer's shopping events seen with ``key`` (``device:mobile``) among
    those that name the same kind of context (devices); 0 when none did."""
    kind = key.split(":", 1)[0] + ":"
    seen = sum(n for k, n in profile.shopping_context.items() if k.startswith(kind))
    return round(profile.shopping_context.get(key, 0) / seen, 6) if seen else 0.0


def _share(value: Any, *, default: float) -> float:
    """A score in [0, 1], or ``default`` when it is missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return min(1.0, max(0.0, float(value)))


def order_value(average: float) -> float:
    """Rank in [0, 1] of an average order value among :data:`ORDER_VALUE_BANDS`."""
    return sum(average >= cut for cut in ORDER_VALUE_BANDS) / len(ORDER_VALUE_BANDS)


def describe(feature: str, value: float) -> str:
    """One feature's value in plain words.

    >>> describe("discount_share", 0.64)
    'used a discount code on about 64% of orders'
    """
    if feature == "orders":
        count = round(math.expm1(value * math.log1p(ORDERS_FULL)))
        return f"has placed {count}{' or more' if value >= 1 else ''} orders"
    if feature == "overdue":
        return f"silent for {value * OVERDUE_CAP:.1f} times their usual gap between orders"
    if feature == "discount_share":
        return f"used a discount code on about {value:.0%} of orders"
    if feature == "order_value":
        return f"average basket {_band(value)}"
    if feature == "churn_risk":
        return f"churn risk {value:.0%}"
    if feature == "value_tier":
        tier = min(TIERS, key=lambda name: abs(TIERS[name] - value))
        return f"{tier} value tier"
    if feature == "premium_interest":
        return "buys large baskets at full price"
    if feature == "bias":
        return "how customers respond to this offer overall"
    if feature == "discount_used":
        return "has used a discount code"
    if feature == "recency":
        days = math.expm1(value * math.log1p(RECENCY_FULL_DAYS))
        return f"last ordered {days:.0f} days ago"
    if feature == "mobile":
        return f"shops on a phone {value:.0%} of the time"
    if feature == "app":
        return f"shops in the app {value:.0%} of the time"
    if feature in ("morning", "afternoon", "evening"):
        return f"it is {feature} where the customer lives"
    if feature.startswith(COUNTRY):
        return f"lives in {feature[len(COUNTRY):]}"
    return f"{feature.replace('_', ' ')} {value:.2f}"


def _band(value: float) -> str:
    rank = round(value * len(ORDER_VALUE_BANDS))
    if rank <= 0:
        return f"under {ORDER_VALUE_BANDS[0]:g}"
    if rank >= len(ORDER_VALUE_BANDS):
        return f"over {ORDER_VALUE_BANDS[-1]:g}"
    return f"{ORDER_VALUE_BANDS[rank - 1]:g} to {ORDER_VALUE_BANDS[rank]:g}"
