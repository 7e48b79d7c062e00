"""Escalation to a human on hard triggers, carrying the whole context.

John writes a second, angrier message about his late headphones two days after the first: a
repeat contact within days goes straight to an agent, who sees his profile, his recent orders and
the conversation so far - nobody asks him to explain it all again.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from nextbest.decisions.policies.base import Trigger, customer_summary, numeric_scores, ttl_ms
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings


def legal_words_in(text: str, words: tuple[str, ...]) -> list[str]:
    """The legal words a message contains (case-insensitive).

    >>> legal_words_in("I will call my LAWYER about this", ("lawyer", "court"))
    ['lawyer']
    """
    lowered = f" {text.lower()} "
    return [w.strip() for w in words if w in lowered]


def escalation_reasons(
    profile: CustomerProfile, event: dict[str, Any], settings: EngineSettings
) -> list[Reason]:
    reasons: list[Reason] = []
    found = legal_words_in(event.get("text") or "", settings.legal_words)
    if found:
        reasons.append(Reason("legal_words", f"The customer mentions: {', '.join(found)}."))
    refund = event.get("refund_requested")
    if refund is not None and refund > settings.refund_escalation_amount:
        reasons.append(
            Reason(
                "refund_above_limit",
                f"Refund of {refund:.2f} asked, above the {settings.refund_escalation_amount:.2f}"
                " an assistant may grant.",
            )
        )
    now = int(event["event_time"])
    window = settings.repeat_contact_ms
    # The contact list includes this conversation's own start; look for an earlier one.
    conversation = profile.conversation
    opened = conversation.opened_at if conversation else now
    earlier = [t for t in profile.support_contacts if t < opened and opened - t <= window]
    if earlier:
        days = (opened - max(earlier)) / 86_400_000
        reasons.append(
            Reason(
                "repeat_contact",
                f"Second contact in {days:.1f} days (limit {settings.repeat_contact_days:g}).",
            )
        )
    return reasons


def sentiment_reasons(
    profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
) -> list[Reason]:
    """A clearly negative message from a high-value customer goes to a person, not a bot."""
    observation = trigger.observation
    if observation is None or observation.sentiment is None:
        return []
    negative = observation.sentiment.negative
    high_value = (profile.revenue >= settings.recovery_high_value
                  or profile.scores.get("value_tier") == "top")
    if negative < settings.escalation_negative_sentiment or not high_value:
        return []
    about = f" about {', '.join(observation.topics)}" if observation.topics else ""
    return [Reason(
        "negative_sentiment_high_value",
        f"Negative message{about} (sentiment model: {negative:.0%} negative) from a "
        f"high-value customer (lifetime {profile.revenue:.2f}).",
    )]


class EscalationPolicy:
    name = "escalation"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        if (
            trigger.family != "support"
            or event is None
            or event["author"] != "customer"
            or event["kind"] not in ("opened", "message")
        ):
            return []
        reasons = escalation_reasons(profile, event, settings)
        reasons += sentiment_reasons(profile, trigger, settings)
        if not reasons:
            return []
        observation = trigger.observation
        now = trigger.event_time
        conversation = profile.conversation
        context = {
            "tier": 3,
            "conversation_id": event["conversation_id"],
            "support_channel": event["channel"],
            "order_id": event.get("order_id"),
            "customer": customer_summary(profile, now),
            "identifiers": profile.identifiers,
            "recent_orders": [asdict(o) for o in profile.recent_orders],
            "conversation": [asdict(m) for m in conversation.messages] if conversation else [],
            "previous_contacts": profile.support_contacts[:-1],
            "sentiment": (
                {"negative": round(observation.sentiment.negative, 3),
                 "topics": list(observation.topics)}
                if observation is not None and observation.sentiment is not None else None
            ),
        }
        return [
            Decision.create(
                decision_type="escalation",
                customer_id=profile.customer_id,
                trigger=event["conversation_id"],
                action="route_to_agent",
                channel="support_desk",
                payload=context,
                reasons=tuple(reasons),
                causing_event_id=trigger.event_id,
                causing_event_time=now,
                decided_at=now,
                ttl_ms=ttl_ms(settings),
                scores={
                    "lifetime_value": round(profile.revenue, 2),
                    **({"negative_sentiment": round(observation.sentiment.negative, 4)}
                       if observation is not None and observation.sentiment is not None
                       else {}),
                    **numeric_scores(profile, ("churn_risk", "expected_value")),
                },
            )
        ]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
