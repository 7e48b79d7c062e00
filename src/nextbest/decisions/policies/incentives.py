"""Incentives in decisions: the offer bandit's pick, bounded by the customer's predicted value
and the day's budget, as a payload and the reasons behind it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from nextbest.decisions.policies.base import Trigger
from nextbest.decisions.record import Reason
from nextbest.guardrails.budget import incentive_cap, predicted_value
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings


def price_sensitive(profile: CustomerProfile, settings: EngineSettings) -> bool:
    """Used a discount code on at least ``price_sensitive_share`` of their orders."""
    return bool(profile.orders) and (
        profile.discounted_orders / profile.orders >= settings.price_sensitive_share)


def choose_offer(
    profile: CustomerProfile, trigger: Trigger, settings: EngineSettings,
    kinds: Collection[str] | None,
) -> tuple[dict[str, Any] | None, list[Reason]]:
    """The offer payload and its reasons; (None, []) without models or an affordable offer."""
    models = trigger.models
    if models is None:
        return None, []
    now = trigger.event_time
    cap = incentive_cap(profile, settings)
    left = models.budget.left(now, settings.incentive_budget_per_day, profile.customer_id)
    choice = models.offers.pick(profile, now, kinds=kinds, value_cap=cap, budget_left=left)
    if choice is None:
        return None, []
    offer = choice.offer
    payload = {
        "offer_id": offer.offer_id,
        "kind": offer.kind,
        "title": offer.title,
        "percent": offer.percent or None,
        "category": offer.category,
        "cost": round(choice.cost, 2),
        "expected_redemption": round(choice.expected_reward, 4),
        "explored": choice.explored,
        "context": {k: round(v, 4) for k, v in choice.context.items()},
    }
    why = "; ".join(choice.reasons)
    chosen = (f"{offer.title}: the offer model expects {choice.expected_reward:.0%} to take it up"
              + (" (tried to learn more)" if choice.explored else "")
              + (f" - {why}" if why else ""))
    value = predicted_value(profile, settings)
    return payload, [
        Reason("offer_choice", chosen + "."),
        Reason("incentive_bound",
               f"Costs {choice.cost:.2f}: within {cap:.2f} ({settings.incentive_value_share:.0%} "
               f"of predicted value {value:.2f}) and the {left:.2f} left in today's budget."),
    ]
