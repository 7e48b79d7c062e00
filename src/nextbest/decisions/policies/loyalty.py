"""Loyalty rewards: every ``loyalty_every_orders``-th order earns a reward, ranked by the
customer's category affinity (a reward tied to the category they care most about first)."""

from __future__ import annotations

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    ttl_ms,
)
from nextbest.decisions.record import Decision, Reason
from nextbest.guardrails.budget import incentive_cap
from nextbest.models.offers import Offer, cost
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings


def ranked_rewards(profile: CustomerProfile, rewards: list[Offer]) -> list[tuple[Offer, float]]:
    """Rewards by the customer's affinity to their category (general rewards score 0); a reward
    tied to a category the customer never showed interest in is not offered."""
    scored = [(r, profile.category_affinity.get(r.category, 0.0) if r.category else 0.0)
              for r in rewards
              if r.category is None or profile.category_affinity.get(r.category, 0.0) > 0]
    return sorted(scored, key=lambda pair: -pair[1])


class LoyaltyRewardPolicy:
    name = "loyalty_reward"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        every = settings.loyalty_every_orders
        if (trigger.family != "purchase" or event is None or event["kind"] != "order"
                or every <= 0 or profile.orders % every != 0 or trigger.models is None):
            return []
        channel = message_channel(profile, ("email", "push"))
        if channel is None:
            return []
        models, now = trigger.models, trigger.event_time
        basket = profile.revenue / profile.orders
        limit = min(incentive_cap(profile, settings),
                    models.budget.left(now, settings.incentive_budget_per_day,
                                       profile.customer_id))
        rewards = [o for o in models.offers.offers if o.kind == "loyalty_reward"]
        ranking = [(r, a) for r, a in ranked_rewards(profile, rewards)
                   if cost(r, basket) <= limit]
        if not ranking:
            return []
        reward, affinity = ranking[0]
        price = round(cost(reward, basket), 2)
        why = (f"Ranked first by affinity to {reward.category} ({affinity:.1f})."
               if reward.category and affinity > 0 else "No category reward fits better.")
        return [Decision.create(
            decision_type="loyalty_reward",
            customer_id=profile.customer_id,
            trigger=f"order:{event['order_id']}",
            action="send_message",
            channel=channel,
            payload={
                "template": "loyalty_reward",
                "offer": {"offer_id": reward.offer_id, "kind": reward.kind,
                          "title": reward.title, "category": reward.category, "cost": price},
                "ranking": [{"offer_id": r.offer_id, "category": r.category,
                             "affinity": round(a, 3)} for r, a in ranking],
                "orders": profile.orders,
                "customer": customer_summary(profile, now),
            },
            reasons=(
                Reason("loyalty_milestone", f"Order number {profile.orders}: a reward every "
                                            f"{every} orders."),
                Reason("category_affinity", why),
            ),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores={"affinity": round(affinity, 3), "offer_cost": price,
                    "lifetime_value": round(profile.revenue, 2),
                    **numeric_scores(profile, ("churn_risk", "expected_value"))},
        )]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
