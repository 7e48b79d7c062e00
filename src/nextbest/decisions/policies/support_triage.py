"""Support triage: every inbound customer message gets a bot answer, an agent draft or a human.

Tier 3 (a person takes over, with the whole context) is :class:`EscalationPolicy`'s; this policy
asks the same questions first (:func:`handoff_reasons`) so the two never answer one message.
Otherwise the message is tier 1 - a recognised question with a standard answer, filled with the
customer's own order, on a calm message - or tier 2: an agent gets a drafted reply with the
customer's facts, so nobody starts from scratch. "Where is my order?" is answered from the
order's real shipment status when fulfilment events told it (use case 2), in the bot's answer
and in the agent's draft alike.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from nextbest.decisions.policies.base import Trigger, customer_summary, numeric_scores, ttl_ms
from nextbest.decisions.policies.delay_apology import apologised
from nextbest.decisions.policies.escalation import (
    customer_message,
    handoff_reasons,
    previous_contact,
)
from nextbest.decisions.policies.recovery_replies import awaited_reply
from nextbest.decisions.policies.shipment_status import (
    UNKNOWN_STATUS,
    shipment_facts,
    status_answer,
    status_words,
)
from nextbest.decisions.record import Decision, Reason
from nextbest.guardrails.localtime import zone
from nextbest.profile.state import Conversation, CustomerProfile, OrderSummary, Shipment
from nextbest.settings import DAY_MS, EngineSettings

Evidence = tuple[re.Pattern[str], float]


def _cue(pattern: str, weight: float) -> Evidence:
    return re.compile(pattern, re.IGNORECASE), weight


@dataclass(frozen=True, slots=True)
class Intent:
    """A kind of support question: the cues that reveal it and how it is answered.

    Each cue carries a weight in (0, 1); cues combine as a noisy-or. ``answer`` is the automatic
    (tier 1) reply, None when a person must answer; ``draft`` is the agent's starting point, with
    ``[brackets]`` for what only the agent can fill in.
    """

    name: str
    label: str
    cues: tuple[Evidence, ...]
    draft: str
    answer: str | None = None
    needs_order: bool = False


INTENTS: tuple[Intent, ...] = (
    Intent(
        "order_status", "the status of an order",
        (_cue(r"\bwhere (is|are) (it|they|my|the)\b|\bwhere it is\b", 0.7),
         _cue(r"\b(delivery|order|parcel|package|shipping) status\b", 0.7),
         _cue(r"\btracking\b|\btrack (it|my)\b", 0.7),
         _cue(r"\bwas due\b|\bdispatch", 0.7),
         _cue(r"\bany update\b|\bstill no\b|\blate\b|\blost\b|\bnot (yet )?arrived\b"
              r"|\b(would|will|to) ship\b", 0.4)),
        "I am sorry for the wait on {your_order} ({items}), placed {since}. I have checked where "
        "it is: {status}.",
        "You can follow {your_order} with the tracking link in your shipping confirmation. If "
        "it has not arrived within two working days, reply here and a colleague will chase it.",
        needs_order=True,
    ),
    Intent(
        "change_address", "changing a delivery address",
        (_cue(r"\b(change|update|correct)\b.{0,40}\baddress\b", 0.7),
         _cue(r"\b(old|previous|wrong|new) (shipping |delivery )?(address|flat|house)\b", 0.7),
         _cue(r"\baddress\b", 0.3)),
        "Thanks for telling us about the address on {your_order}. I have [updated it / asked "
        "the carrier to redirect it].",
        "You can change the delivery address of {your_order} under Orders in your account "
        "until it ships. If it has already shipped, reply here and we will redirect it.",
        needs_order=True,
    ),
    Intent(
        "return_exchange", "returning or exchanging an item",
        (_cue(r"\breturn policy\b|\bhow (do|can) i (return|exchange)\b", 0.8),
         _cue(r"\breturn label\b|\bwrong size\b", 0.5),
         _cue(r"\breturn|\bexchange\b|\bsend (it|them) back\b", 0.4)),
        "Thanks for your message about returning {items} from {your_order}, placed {since}. "
        "[Return or exchange steps and label].",
        "Returns and exchanges are free: start one for {your_order} under Orders in your "
        "account and we will email you a prepaid label.",
    ),
    Intent(
        "refund_status", "a refund",
        (_cue(r"\brefund", 0.6), _cue(r"\bmoney back\b", 0.6)),
        "I am sorry you are still waiting for the refund on {your_order}. I have checked: "
        "[refund status and date].",
    ),
    Intent(
        "invoice", "an invoice",
        (_cue(r"\binvoice\b", 0.8), _cue(r"\breceipt\b", 0.6), _cue(r"\bvat\b", 0.5)),
        "Here is the invoice for {your_order}: [invoice link].",
        "The invoice for {your_order} is under Orders in your account, ready to download.",
        needs_order=True,
    ),
    Intent(
        "opening_hours", "opening hours",
        (_cue(r"\bopening (hours|times)\b|\bstore hours\b", 0.8),
         _cue(r"\bwhen (are|do|does) (you|the store|the shop) (open|close)\b", 0.8),
         _cue(r"\bopen (on|at|until|tomorrow|today)\b", 0.4)),
        "[Store] is open [hours].",
        "Every store's opening hours, holidays included, are on our store finder page. Online "
        "orders and this chat are open around the clock.",
    ),
    Intent(
        "product_question", "a product",
        (_cue(r"\bwarranty\b|\b(back )?in stock\b|\btell me (a bit )?more about\b", 0.7),
         _cue(r"\bwhat size\b|\bsize guide\b|\bdiscount\b", 0.4)),
        "Thanks for your question about {items}. [Answer].",
    ),
    Intent(
        "faulty_item", "a faulty or damaged item",
        (_cue(r"\b(broke|broken|faulty|damaged|defective|cracked|ripped|torn|leaking)\b", 0.7),
         _cue(r"\bstopped working\b|\bfell apart\b|\bcame (off|apart)\b", 0.7),
         _cue(r"\bquality\b", 0.4)),
        "I am so sorry the {items} from {your_order} let you down. We will [replace it / "
        "refund you in full]: [next steps].",
    ),
    Intent(
        "complaint", "a complaint",
        (_cue(r"\brude\b|\bpoor service\b|\bnot fair\b|\bunacceptable\b", 0.6),
         _cue(r"\bprices?\b|\bcosts?\b|\bcheaper\b|\bfar too\b|\bsomewhere else\b", 0.4)),
        "Thank you for telling us, and I am sorry we let you down. [What we will do about it].",
    ),
    Intent(
        "thanks", "thanks",
        (_cue(r"\bthank(s| you)\b", 0.7), _cue(r"\bappreciate\b", 0.4)),
        "You are welcome! [Anything else?]",
        "You are welcome! If anything else comes up about {your_order}, just reply here.",
    ),
)
INTENT_BY_NAME = {intent.name: intent for intent in INTENTS}
PLEASANTRIES = ("thanks",)
"""Intents that count only when nothing else is asked ("thanks, but where is my order?")."""
UNKNOWN_DRAFT = "Thank you for getting in touch about {your_order}. [Answer]."


def classify_intent(text: str) -> tuple[Intent | None, float]:
    """The most likely intent of a message and the confidence in it ((None, 0.0) if none).

    Confidence is the winner's noisy-or evidence, shrunk by a runner-up's:
    ``best * best / (best + runner_up)``.

    >>> intent, confidence = classify_intent("Hi, where is my order? It was due yesterday.")
    >>> intent.name, round(confidence, 2)
    ('order_status', 0.91)
    >>> classify_intent("Do you sell gift cards?")
    (None, 0.0)
    """
    evidence: dict[str, float] = {}
    for intent in INTENTS:
        miss = 1.0
        for pattern, weight in intent.cues:
            if pattern.search(text):
                miss *= 1.0 - weight
        if miss < 1.0:
            evidence[intent.name] = 1.0 - miss
    if len(evidence) > 1:
        for name in PLEASANTRIES:
            evidence.pop(name, None)
    if not evidence:
        return None, 0.0
    ranked = sorted(evidence.values(), reverse=True)
    best, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else 0.0)
    name = max(evidence, key=evidence.__getitem__)
    return INTENT_BY_NAME[name], best * best / (best + runner_up)


def order_asked_about(profile: CustomerProfile, event: dict[str, Any]) -> OrderSummary | None:
    """The order a message is about: the one it (or its conversation) names, else the latest.

    None when the named order is not among the recent orders on file, or there are none.
    """
    conversation = profile.conversation
    named = event.get("order_id") or (conversation.order_id if conversation else None)
    if named:
        return next((o for o in reversed(profile.recent_orders) if o.order_id == named), None)
    return profile.recent_orders[-1] if profile.recent_orders else None


def value_bucket(profile: CustomerProfile, settings: EngineSettings) -> str:
    """``new``, ``low``, ``middle`` or ``top`` by the value model's tier and lifetime revenue."""
    if profile.orders == 0:
        return "new"
    tier = profile.scores.get("value_tier")
    if tier == "top" or profile.revenue >= settings.recovery_high_value:
        return "top"
    return "low" if tier == "low" else "middle"


def order_facts(order: OrderSummary | None, now: int) -> dict[str, str]:
    """Words for the order a reply talks about (generic ones without an order)."""
    if order is None:
        return {"your_order": "your order", "items": "your items", "since": "recently"}
    placed = datetime.fromtimestamp(order.time / 1000, tz=UTC)
    days = max(0, now - order.time) // DAY_MS
    items = ", ".join(order.items) or "your items"
    if order.categories:
        items = f"{items} ({', '.join(order.categories)})"
    return {
        "your_order": f"order {order.order_id} of {placed.day} {placed:%B %Y}",
        "items": items,
        "since": "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago",
    }


def conversation_outcome(conversation: Conversation) -> str:
    """``escalated`` if an agent took part, ``contained`` if the bot alone handled it.

    ``open`` while the conversation is not resolved (containment counts resolved ones only).

    >>> from nextbest.profile.state import Message
    >>> done = Conversation("cv", "sms", 0, messages=[Message(0, "customer", "Hi")],
    ...                     resolved=True)
    >>> conversation_outcome(done)
    'contained'
    """
    if not conversation.resolved:
        return "open"
    if any(m.author == "agent" for m in conversation.messages):
        return "escalated"
    return "contained"


def is_repeat_contact(profile: CustomerProfile, now: int, window_ms: int) -> bool:
    """Whether an earlier support contact lies within ``window_ms`` before this conversation."""
    return previous_contact(profile, now, window_ms) is not None


class SupportTriagePolicy:
    name = "support_triage"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = customer_message(trigger)
        if (event is None or not (event.get("text") or "").strip()
                or awaited_reply(profile, trigger) is not None):
            return []  # an answer to a recovery apology is the recovery policy's
        conversation_id = event["conversation_id"]
        escalated = Decision.make_id("escalation", profile.customer_id, conversation_id)
        if escalated in profile.sent or handoff_reasons(profile, trigger, settings):
            return []  # tier 3: a person has it, with the whole context
        now = trigger.event_time
        intent, confidence = classify_intent(event["text"])
        order = order_asked_about(profile, event)
        observation = trigger.observation
        negative = (observation.sentiment.negative
                    if observation is not None and observation.sentiment is not None else None)
        facts = order_facts(order, now)
        tz = zone(profile.timezone, settings.default_timezone)
        shipment = profile.shipment(order.order_id) if order is not None else None
        facts["status"] = status_words(shipment, tz) if shipment else UNKNOWN_STATUS
        held_back = _not_automatic(profile, intent, confidence, order, negative, settings)
        payload: dict[str, Any] = {
            "tier": 2,
            "conversation_id": conversation_id,
            "support_channel": event["channel"],
            "intent": intent.name if intent else None,
            "confidence": round(confidence, 4),
            "order_id": order.order_id if order else event.get("order_id"),
        }
        if shipment is not None:
            payload["shipment"] = shipment_facts(shipment)
        if intent is not None and intent.answer is not None and not held_back:
            action, channel = "send_automated_answer", event["channel"]
            told = shipment if intent.name == "order_status" else None
            answer = (status_answer(told, facts["your_order"], tz) if told
                      else intent.answer.format(**facts))
            payload.update(tier=1, answer=answer)
            reasons = _automatic(intent, confidence, order, facts, negative, settings, told)
        else:
            action, channel = "draft_for_agent", "support_desk"
            payload.update(_draft(profile, intent, confidence, order, facts, negative, now,
                                  settings))
            reasons = tuple(held_back)
        scores = {"intent_confidence": round(confidence, 4),
                  **({"negative_sentiment": round(negative, 4)} if negative is not None else {}),
                  "lifetime_value": round(profile.revenue, 2),
                  **numeric_scores(profile, ("churn_risk", "expected_value"))}
        return [Decision.create(
            decision_type="support_reply", customer_id=profile.customer_id,
            trigger=trigger.event_id, action=action, channel=channel, payload=payload,
            reasons=reasons, causing_event_id=trigger.event_id, causing_event_time=now,
            decided_at=now, ttl_ms=ttl_ms(settings), scores=scores,
        )]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []


def _draft(
    profile: CustomerProfile, intent: Intent | None, confidence: float,
    order: OrderSummary | None, facts: dict[str, str], negative: float | None, now: int,
    settings: EngineSettings,
) -> dict[str, Any]:
    """The agent's drafted reply, a note on who is asking, and the context."""
    bucket = value_bucket(profile, settings)
    upset = negative is not None and negative >= settings.support_negative_sentiment
    body = (intent.draft if intent else UNKNOWN_DRAFT).format(**facts)
    note = (
        f"{bucket.capitalize()}-value customer: lifetime {profile.revenue:.2f} over "
        f"{profile.orders} orders. "
        + (f"About {facts['your_order']} ({facts['items']}), placed {facts['since']}. "
           if order else "No order on file for this message. ")
        + (f"Parcel {facts['status']}" + (
            "; its delay apology was decided already. "
            if order and apologised(profile, order.order_id) else ". ")
           if facts["status"] != UNKNOWN_STATUS else "")
        + (f"Asks about {intent.label} ({confidence:.0%} confident). " if intent
           else "Question not recognised. ")
        + (f"Reads {negative:.0%} negative." if negative is not None else "")
    ).strip()
    conversation = profile.conversation
    return {
        "draft": f"Hi, {'I am really sorry about this. ' if upset else ''}{body}",
        "agent_note": note,
        "value_bucket": bucket,
        "customer": customer_summary(profile, now),
        "recent_orders": [asdict(o) for o in profile.recent_orders],
        "conversation": [asdict(m) for m in conversation.messages] if conversation else [],
    }


def _not_automatic(
    profile: CustomerProfile, intent: Intent | None, confidence: float,
    order: OrderSummary | None, negative: float | None, settings: EngineSettings,
) -> list[Reason]:
    """Why a message cannot be answered automatically (empty: tier 1)."""
    held: list[Reason] = []
    if intent is None:
        held.append(Reason("intent_unknown", "No known question recognised in the message."))
    elif confidence < settings.support_auto_answer_confidence:
        held.append(Reason(
            "intent_uncertain",
            f"Best guess: {intent.label} at {confidence:.0%}, below the "
            f"{settings.support_auto_answer_confidence:.0%} an automatic answer needs."))
    elif intent.answer is None:
        held.append(Reason("needs_a_person",
                           f"Questions about {intent.label} have no automatic answer."))
    elif intent.needs_order and order is None:
        held.append(Reason("order_not_on_file",
                           f"Answering about {intent.label} needs an order; none on file."))
    if negative is not None and negative >= settings.support_negative_sentiment:
        held.append(Reason(
            "negative_sentiment",
            f"The message reads negative (sentiment model: {negative:.0%}); a person should "
            "answer, but nothing calls for escalation."))
    conversation = profile.conversation
    if conversation and any(m.author == "agent" for m in conversation.messages):
        held.append(Reason("agent_in_conversation",
                           "An agent already takes part in this conversation."))
    return held


def _automatic(
    intent: Intent, confidence: float, order: OrderSummary | None, facts: dict[str, str],
    negative: float | None, settings: EngineSettings, shipment: Shipment | None,
) -> tuple[Reason, ...]:
    reasons = [Reason(
        "intent_recognised",
        f"Asks about {intent.label} ({confidence:.0%} confident); a standard answer covers it.")]
    if order is not None:
        reasons.append(Reason("order_on_file", f"Answer filled with {facts['your_order']}."))
    if shipment is not None:
        reasons.append(Reason("shipment_status",
                              f"Answer built from the shipment status: {facts['status']}."))
    if negative is not None:
        reasons.append(Reason(
            "calm_message",
            f"Sentiment model: {negative:.0%} negative, below the "
            f"{settings.support_negative_sentiment:.0%} that needs a person."))
    return tuple(reasons)
