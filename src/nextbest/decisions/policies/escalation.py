"""Escalation to a human on hard triggers, carrying the whole context.

John writes a second, angrier message about his late headphones two days after the first: a
repeat contact within days goes straight to an agent, who sees his profile, his recent orders and
the conversation so far - nobody asks him to explain it all again.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from nextbest.decisions.policies.base import Trigger, customer_summary, numeric_scores, ttl_ms
from nextbest.decisions.policies.recovery_replies import awaited_reply
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings


def legal_words_in(text: str, words: tuple[str, ...]) -> list[str]:
    """The legal words a message contains (case-insensitive).

    >>> legal_words_in("I will call my LAWYER about this", ("lawyer", "court"))
    ['lawyer']
    """
    lowered = f" {text.lower()} "
    return [w.strip() for w in words if w in lowered]


def opened_at(profile: CustomerProfile, now: int) -> int:
    """When the current conversation opened (``now`` if there is none)."""
    return profile.conversation.opened_at if profile.conversation else now


def previous_contact(profile: CustomerProfile, now: int, window_ms: int) -> int | None:
    """The latest support contact within ``window_ms`` before the current conversation opened.

    The contact list includes the current conversation's own start, so only earlier ones count.
    """
    opened = opened_at(profile, now)
    earlier = [t for t in profile.support_contacts if t < opened and opened - t <= window_ms]
    return max(earlier) if earlier else None


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
    earlier = previous_contact(profile, now, settings.repeat_contact_ms)
    if earlier is not None:
        days = (opened_at(profile, now) - earlier) / DAY_MS
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
    """A negative message from a high-value customer goes to a person, not a bot.

    Clearly negative (``escalation_negative_sentiment``) always; merely negative
    (``bypass_negative_sentiment``) when it is a repeat contact within
    ``support_repeat_window_days`` - John writing again about his late headphones.
    """
    observation = trigger.observation
    if observation is None or observation.sentiment is None:
        return []
    negative = observation.sentiment.negative
    high_value = (profile.revenue >= settings.recovery_high_value
                  or profile.scores.get("value_tier") == "top")
    if not high_value:
        return []
    reasons: list[Reason] = []
    about = f" about {', '.join(observation.topics)}" if observation.topics else ""
    if negative >= settings.escalation_negative_sentiment:
        reasons.append(Reason(
            "negative_sentiment_high_value",
            f"Negative message{about} (sentiment model: {negative:.0%} negative) from a "
            f"high-value customer (lifetime {profile.revenue:.2f}).",
        ))
    window = int(settings.support_repeat_window_days * DAY_MS)
    earlier = previous_contact(profile, trigger.event_time, window)
    if negative >= settings.bypass_negative_sentiment and earlier is not None:
        days = (opened_at(profile, trigger.event_time) - earlier) / DAY_MS
        reasons.append(Reason(
            "bypass_bot",
            f"High-value customer (lifetime {profile.revenue:.2f}) writing again {days:.1f} days "
            f"after the last contact, negative{about} ({negative:.0%}): straight to an agent.",
        ))
    return reasons


def customer_message(trigger: Trigger) -> dict[str, Any] | None:
    """The event if it is an inbound customer support message (opened or message), else None."""
    event = trigger.event
    if (
        trigger.family != "support"
        or event is None
        or event["author"] != "customer"
        or event["kind"] not in ("opened", "message")
    ):
        return None
    return event


def handoff_reasons(
    profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
) -> list[Reason]:
    """Why an inbound customer message goes to a person (tier 3); empty if it need not."""
    if trigger.event is None:
        return []
    return (escalation_reasons(profile, trigger.event, settings)
            + sentiment_reasons(profile, trigger, settings))


def escalation(profile: CustomerProfile, trigger: Trigger, event: dict[str, Any],
               reasons: list[Reason], settings: EngineSettings) -> Decision:
    """The conversation of ``event`` to a person, with the whole context: the customer, their
    identifiers, orders and where their parcels are, the conversation so far, earlier contacts
    and the message's tone."""
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
        "shipments": [asdict(x) for x in profile.shipments],
        "conversation": [asdict(m) for m in conversation.messages] if conversation else [],
        "previous_contacts": profile.support_contacts[:-1],
        "sentiment": (
            {"negative": round(observation.sentiment.negative, 3),
             "topics": list(observation.topics)}
            if observation is not None and observation.sentiment is not None else None
        ),
    }
    return Decision.create(
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


class EscalationPolicy:
    name = "escalation"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = customer_message(trigger)
        if event is None or awaited_reply(profile, trigger) is not None:
            return []  # an answer to a recovery apology is the recovery policy's
        reasons = handoff_reasons(profile, trigger, settings)
        if not reasons:
            return []
        return [escalation(profile, trigger, event, reasons, settings)]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
