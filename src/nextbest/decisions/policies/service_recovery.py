"""Service recovery in two steps (use case 1): an apology that asks, then the answer decides.

Lisa returns a dress whose zipper broke on first wear: the brand is at fault, so she gets an
apology asking whether everything was resolved to her satisfaction. Her answer in that
conversation (``recovery_replies``) decides the next message: satisfied, a thank-you and nothing
more; satisfied with the refund but disappointed with the dress, a discount proportional to her
value and tenure - generous enough to win back trust, not so generous that discounts become a
habit; angry or no better, a person with the whole context. No answer, nothing more.
"""

from __future__ import annotations

from typing import Any

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    ttl_ms,
)
from nextbest.decisions.policies.escalation import escalation, handoff_reasons
from nextbest.decisions.policies.recovery_replies import (
    CONVERSATION_PREFIX,
    Reading,
    awaited_reply,
    read_reply,
    recovery_conversation,
    reply_trigger,
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
        if trigger.family == "support":
            reply = awaited_reply(profile, trigger)
            return [] if reply is None else [self._answer(profile, trigger, reply, settings)]
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
        items = [line["item_id"] for line in event.get("lines") or []]
        category = next((ln.get("category") for ln in event.get("lines") or [] if ln), None)
        return [
            Decision.create(
                decision_type="service_recovery",
                customer_id=profile.customer_id,
                trigger=f"{event['order_id']}:{trigger.event_id}",
                action="send_message",
                channel=channel,
                payload={
                    "template": "apology_ask_if_resolved",
                    "order_id": event["order_id"],
                    "items": items,
                    "category": category,
                    "ask_if_resolved": True,
                    "conversation_id": recovery_conversation(event["order_id"]),
                    "customer": customer_summary(profile, now),
                },
                reasons=(
                    Reason("return_defective",
                           "The customer returned an item because it was defective."),
                    Reason("asked_if_resolved",
                           "The apology asks whether all was resolved; the answer decides "
                           "the next message."),
                ),
                causing_event_id=trigger.event_id,
                causing_event_time=now,
                decided_at=now,
                ttl_ms=ttl_ms(settings),
                scores={"lifetime_value": round(profile.revenue, 2),
                        **numeric_scores(profile, ("churn_risk", "expected_value"))},
            )
        ]

    def _answer(self, profile: CustomerProfile, trigger: Trigger, event: dict[str, Any],
                settings: EngineSettings) -> Decision:
        """The next message after the customer's answer to the apology."""
        text = event["text"]
        handoff = handoff_reasons(profile, trigger, settings)
        reading: Reading = "unresolved" if handoff else read_reply(text)
        heard = Reason("answer_" + reading, {
            "satisfied": "The customer says all was resolved.",
            "disappointed": "The customer is satisfied with what was done but still "
                            "disappointed.",
            "unresolved": "The customer says it is not resolved, or is angry.",
        }[reading] + f' ("{text[:120]}")')
        if reading == "unresolved":
            return escalation(profile, trigger, event, [heard, *handoff], settings)
        conversation_id = event["conversation_id"]
        order_id = conversation_id.removeprefix(CONVERSATION_PREFIX)
        now = trigger.event_time
        payload: dict[str, Any] = {"order_id": order_id, "conversation_id": conversation_id}
        scores: dict[str, float] = {"lifetime_value": round(profile.revenue, 2)}
        reasons = [heard]
        if reading == "satisfied":
            payload["template"] = "thank_you_recovery"
        else:
            discount = recovery_discount(profile, now, settings)
            first_order = profile.orders <= 1
            payload.update(template="apology_with_offer",
                           offer={"kind": "discount", "percent": discount},
                           customer=customer_summary(profile, now))
            scores.update(discount_percent=discount,
                          **numeric_scores(profile, ("churn_risk", "expected_value")))
            reasons.append(Reason(
                "offer_scaled_by_value",
                f"{discount:.0f}% off, scaled by lifetime value {profile.revenue:.2f} and "
                f"tenure of {max(0, now - profile.first_seen) / DAY_MS:.0f} days"
                + (" (first-time buyer: trust is fragile)." if first_order else ".")))
        return Decision.create(
            decision_type="service_recovery",
            customer_id=profile.customer_id,
            trigger=reply_trigger(conversation_id, "service_recovery"),
            action="send_message",
            channel=event["channel"],
            payload=payload,
            reasons=tuple(reasons),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores=scores,
        )

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
