"""The gesture that goes with a proactive apology, fitted to the customer's value and interests.

* **Interests**: a reward of the offer catalogue tied to a category the customer cares about
  (their category affinity), unless they buy on discounts; else a discount on their favourite
  category (the one they showed most interest in, or the delayed order's).
* **Value**: the discount's size grows with spend plus predicted value and with tenure
  (:func:`~nextbest.decisions.policies.service_recovery.recovery_discount`, 10-30% by
  default); it costs that share of their average order.
* **Bounds**: like every incentive it costs at most ``incentive_value_share`` of the customer's
  predicted value and what is left of the day's budget: a discount too dear for them steps down
  by 5 points; when not even 5% fits, the apology goes out without a gesture.

>>> from nextbest.profile.state import CustomerProfile
>>> loyal = CustomerProfile("c", orders=8, revenue=960.0, first_seen=0,
...                         category_affinity={"coffee": 6.0, "shoes": 1.0},
...                         scores={"expected_value": 400.0})
>>> gesture = delay_gesture(loyal, now=400 * DAY_MS, settings=EngineSettings(),
...                         order_categories=["shoes"], catalogue=DEFAULT_OFFERS, budget_left=500)
>>> gesture.offer["title"], gesture.offer["cost"]
('30% off your next coffee order', 36.0)
>>> newcomer = CustomerProfile("n", orders=1, revenue=40.0, first_seen=0,
...                            scores={"expected_value": 20.0})
>>> delay_gesture(newcomer, now=DAY_MS, settings=EngineSettings(), order_categories=["shoes"],
...               catalogue=DEFAULT_OFFERS, budget_left=500).offer["title"]
'5% off your next shoes order'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nextbest.decisions.policies.incentives import price_sensitive
from nextbest.decisions.policies.loyalty import ranked_rewards
from nextbest.decisions.policies.service_recovery import recovery_discount
from nextbest.decisions.record import Reason
from nextbest.guardrails.budget import incentive_cap, predicted_value
from nextbest.models.offers import DEFAULT_OFFERS, Offer, cost
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

__all__ = ["DEFAULT_OFFERS", "Gesture", "delay_gesture", "favourite_category"]

STEP = 5.0
"""Percentage points a discount too dear for the customer steps down by."""


@dataclass(frozen=True, slots=True)
class Gesture:
    """What the apology offers (None: an apology alone) and why."""

    offer: dict[str, Any] | None
    reasons: tuple[Reason, ...]
    category: str | None
    """The customer's favourite category, which the message names."""


def favourite_category(profile: CustomerProfile,
                       order_categories: Sequence[str]) -> tuple[str | None, float]:
    """The category the customer showed most interest in, else the delayed order's first.

    >>> favourite_category(CustomerProfile("c", category_affinity={"tea": 2.0}), ["shoes"])
    ('tea', 2.0)
    >>> favourite_category(CustomerProfile("c"), ["shoes"])
    ('shoes', 0.0)
    """
    if profile.category_affinity:
        best = max(profile.category_affinity, key=profile.category_affinity.__getitem__)
        if profile.category_affinity[best] > 0:
            return best, profile.category_affinity[best]
    return (order_categories[0] if order_categories else None), 0.0


def delay_gesture(profile: CustomerProfile, *, now: int, settings: EngineSettings,
                  order_categories: Sequence[str], catalogue: Sequence[Offer],
                  budget_left: float) -> Gesture:
    """The gesture fitted to this customer, within the incentive cap and today's budget."""
    cap = incentive_cap(profile, settings)
    limit = min(cap, budget_left)
    favourite, affinity = favourite_category(profile, order_categories)
    basket = profile.revenue / profile.orders if profile.orders else settings.new_customer_value

    def bound(price: float) -> Reason:
        return Reason("incentive_bound", f"Costs {price:.2f}: within {cap:.2f} "
                      f"({settings.incentive_value_share:.0%} of predicted value "
                      f"{predicted_value(profile, settings):.2f}) and the {budget_left:.2f} "
                      "left in today's budget.")

    if not price_sensitive(profile, settings):
        rewards = [o for o in catalogue if o.kind == "loyalty_reward" and o.category]
        for reward, liked in ranked_rewards(profile, rewards):
            price = cost(reward, basket)
            if price <= limit:
                offer = {"offer_id": reward.offer_id, "kind": reward.kind, "title": reward.title,
                         "category": reward.category, "cost": round(price, 2)}
                return Gesture(offer, (
                    Reason("gesture_by_interest",
                           f"{reward.title}: tied to {reward.category}, a category they care "
                           f"about (affinity {liked:.1f}), and they rarely buy on discounts."),
                    bound(price)), reward.category)
    sized = recovery_discount(profile, now, settings)
    percent = sized
    while percent > STEP and basket * percent / 100 > limit:
        percent -= STEP
    price = basket * percent / 100
    if price > limit:
        return Gesture(None, (Reason(
            "apology_only",
            f"No gesture fits: {percent:.0f}% off an average order of {basket:.2f} costs "
            f"{price:.2f}, above {limit:.2f} (the incentive cap or what is left of today's "
            "budget)."),), favourite)
    expected = profile.scores.get("expected_value")
    future = float(expected) if isinstance(expected, int | float) else 0.0
    tenure = max(0, now - profile.first_seen) / DAY_MS
    where = f"your next {favourite} order" if favourite else "your next order"
    offer = {"offer_id": f"delay-apology-{percent:.0f}", "kind": "discount",
             "title": f"{percent:.0f}% off {where}", "percent": percent, "category": favourite,
             "cost": round(price, 2)}
    lowered = (f", lowered from {sized:.0f}% to fit the incentive bounds" if percent < sized
               else "")
    interest = (f"On {favourite}, the category they care most about (affinity {affinity:.1f})."
                if affinity > 0 else f"On {favourite}, the category of the delayed order."
                if favourite else "On any order: no category interest known yet.")
    return Gesture(offer, (
        Reason("gesture_by_value",
               f"{percent:.0f}% off, scaled by lifetime value {profile.revenue:.2f} plus "
               f"expected {future:.2f} and tenure of {tenure:.0f} days{lowered}."),
        Reason("gesture_by_interest", interest),
        bound(price)), favourite)
