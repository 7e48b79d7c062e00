"""Next best offer: a known customer browsing without buying gets the offer the bandit picks.

The trigger is behavioural (``offer_after_views`` product views since the last order), so the
guardrails hold it for the behavioural delay and drop it if the customer orders meanwhile. The
offer is any kind from the catalogue; the bandit learns from redemptions which kind suits which
customer, and the cost is bounded by the customer's predicted value and the day's budget.
"""

from __future__ import annotations

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    recommended_items,
    ttl_ms,
)
from nextbest.decisions.policies.incentives import choose_offer
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings


class NextBestOfferPolicy:
    name = "next_best_offer"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        if (trigger.family != "clickstream" or event is None
                or event["action"] != "product_view" or profile.orders == 0
                or profile.views_since_order != settings.offer_after_views):
            return []
        channel = message_channel(profile, ("email", "push"))
        if channel is None:
            return []
        offer, offer_why = choose_offer(profile, trigger, settings, None)
        if offer is None:
            return []
        now = trigger.event_time
        category = event.get("category")
        last_order = profile.recent_orders[-1].order_id if profile.recent_orders else "none"
        return [Decision.create(
            decision_type="next_best_offer",
            customer_id=profile.customer_id,
            # One offer per stretch between two orders.
            trigger=f"views-after:{last_order}",
            action="send_message",
            channel=channel,
            payload={
                "template": "offer",
                "offer": offer,
                "browsed_category": category,
                "recommendations": recommended_items(
                    profile, trigger, settings.recommendations_per_message,
                    context=[event["item_id"]] if event.get("item_id") else None),
                "last_order_id": last_order,
                "customer": customer_summary(profile, now),
            },
            reasons=(
                Reason("browsing_without_buying",
                       f"{profile.views_since_order} product views since the last order"
                       + (f", lately in {category}." if category else ".")),
                *offer_why,
            ),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores={"offer_cost": offer["cost"],
                    "expected_redemption": offer["expected_redemption"],
                    "lifetime_value": round(profile.revenue, 2),
                    **numeric_scores(profile, ("churn_risk", "expected_value"))},
        )]

    def still_relevant(self, profile: CustomerProfile, decision: Decision) -> bool:
        """Held for the behavioural delay: only if no order came in the meantime."""
        last = profile.recent_orders[-1].order_id if profile.recent_orders else "none"
        return last == decision.payload.get("last_order_id")

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
