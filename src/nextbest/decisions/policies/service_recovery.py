"""Service recovery: a defective return earns an apology and an offer scaled by worth.

Lisa returns a dress whose zipper broke on first wear: the brand is at fault, so she gets an
apology and a discount proportional to her value and tenure - generous enough to win back trust,
not so generous that discounts become a habit.
"""

from __future__ import annotations

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    ttl_ms,
)
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings


def recovery_discount(profile: CustomerProfile, now: int, settings: EngineSettings) -> float:
    """Percent off the next order: base for a newcomer, up to the maximum for loyal, valuable ones.

    Value is what the customer spent plus what the churn model expects them to spend over its
    horizon (``expected_value``), so a new customer with a promising rhythm is not treated as a
    stranger.

    >>> s = EngineSettings()
    >>> recovery_discount(CustomerProfile("c"), 0, s)
    10.0
    >>> recovery_discount(CustomerProfile("c", revenue=5_000.0, first_seen=0), 400 * 86_400_000, s)
    30.0
    """
    expected = profile.scores.get("expected_value")
    future = float(expected) if isinstance(expected, int | float) else 0.0
    value_share = min(1.0, (profile.revenue + future) / settings.recovery_high_value)
    tenure_share = min(1.0, max(0, now - profile.first_seen) / (365 * DAY_MS))
    span = settings.recovery_max_discount - settings.recovery_base_discount
    discount = settings.recovery_base_discount + span * (0.7 * value_share + 0.3 * tenure_share)
    return float(round(discount / 5.0) * 5.0)


class ServiceRecoveryPolicy:
    name = "service_recovery"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        if (
            trigger.family != "purchase"
            or event is None
            or event["kind"] != "return"
            or event.get("return_reason") != "defective"
        ):
            return []
        channel = message_channel(profile, ("sms", "email", "push"))
        if channel is None:
            return []
        now = trigger.event_time
        discount = recovery_discount(profile, now, settings)
        items = [line["item_id"] for line in event.get("lines") or []]
        category = next((ln.get("category") for ln in event.get("lines") or [] if ln), None)
        first_order = profile.orders <= 1
        reasons = (
            Reason("return_defective", "The customer returned an item because it was defective."),
            Reason(
                "offer_scaled_by_value",
                f"{discount:.0f}% off, scaled by lifetime value {profile.revenue:.2f} and "
                f"tenure of {max(0, now - profile.first_seen) / DAY_MS:.0f} days"
                + (" (first-time buyer: trust is fragile)." if first_order else "."),
            ),
        )
        return [
            Decision.create(
                decision_type="service_recovery",
                customer_id=profile.customer_id,
                trigger=f"{event['order_id']}:{trigger.event_id}",
                action="send_message",
                channel=channel,
                payload={
                    "template": "apology_with_offer",
                    "order_id": event["order_id"],
                    "items": items,
                    "category": category,
                    "offer": {"kind": "discount", "percent": discount},
                    "ask_if_resolved": True,
                    "customer": customer_summary(profile, now),
                },
                reasons=reasons,
                causing_event_id=trigger.event_id,
                causing_event_time=now,
                decided_at=now,
                ttl_ms=ttl_ms(settings),
                scores={"lifetime_value": round(profile.revenue, 2), "discount_percent": discount,
                        **numeric_scores(profile, ("churn_risk", "expected_value"))},
            )
        ]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
