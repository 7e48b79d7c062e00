"""Support triage: tier 1 bot answers, tier 2 agent drafts, tier 3 escalations, never two."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nextbest.decisions.policies.escalation import EscalationPolicy
from nextbest.decisions.policies.support_triage import (
    SupportTriagePolicy,
    classify_intent,
    conversation_outcome,
    is_repeat_contact,
)
from nextbest.decisions.record import Decision
from nextbest.engine import Engine
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings
from tests import stepping
from tests.events import DAY, MINUTE, order, shipment, support

CID = "nb-john"
T0 = 1_699_956_000_000  # 14 November 2023, 10:00 UTC (daytime: no quiet hours)
JOHN = {"phone": "+447700900123", "email": "john@example.com"}
WHERE = "Hi, where is my order? It was due yesterday."
ANGRY = "Order o1 is a week late and nobody answers. This is completely unacceptable."


@pytest.fixture
def engine() -> Engine:
    return Engine(EngineSettings(), policies=[EscalationPolicy(), SupportTriagePolicy()])


def feed(engine: Engine, events: list[tuple[str, dict[str, Any]]],
         profile: CustomerProfile | None = None) -> tuple[CustomerProfile, list[Decision]]:
    return stepping.feed(engine, CID, events, profile)


def bought(total: float = 50.0) -> tuple[str, dict[str, Any]]:
    return "purchase", order(T0, "o1", total=total, category="headphones", item_id="hp-7",
                             customer=JOHN)


def contact(time: int, conversation: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    """A conversation opened by the customer, then their message a minute later."""
    return [("support", support(time, conversation, None, kind="opened", customer=JOHN)),
            ("support", support(time + MINUTE, conversation, text, customer=JOHN))]


def test_order_status_question_with_an_order_on_file_gets_an_automatic_answer(
    engine: Engine,
) -> None:
    _, decisions = feed(engine, [bought(), *contact(T0 + 2 * DAY, "cv1", WHERE)])
    (reply,) = decisions
    assert reply.decision_type == "support_reply"
    assert reply.action == "send_automated_answer"
    assert reply.channel == "sms"
    assert reply.payload["tier"] == 1
    assert reply.payload["intent"] == "order_status"
    assert "order o1 of 14 November 2023" in reply.payload["answer"]
    assert reply.scores["intent_confidence"] >= 0.6
    assert reply.scores["lifetime_value"] == 50.0
    assert [r.code for r in reply.reasons][:2] == ["intent_recognised", "order_on_file"]
    record = orjson.dumps(reply.to_record()).decode()
    assert "john@example.com" not in record and "+447700900123" not in record


HOUR = 60 * MINUTE
TRACK = "https://track.example/dhl/o1"


def shipped(at: int = T0 + 3 * HOUR) -> tuple[str, dict[str, Any]]:
    return "fulfilment", shipment(at, "o1", "shipped", promised=T0 + 3 * DAY,
                                  tracking_url=TRACK, customer=JOHN)


def delayed() -> tuple[str, dict[str, Any]]:
    return "fulfilment", shipment(T0 + DAY, "o1", "delayed", promised=T0 + 3 * DAY,
                                  expected=T0 + 6 * DAY, reason="warehouse", customer=JOHN)


def test_where_is_my_order_is_answered_from_the_real_shipment_status(engine: Engine) -> None:
    _, decisions = feed(engine, [bought(), shipped(), delayed(),
                                 *contact(T0 + 2 * DAY, "cv1", WHERE)])
    (reply,) = decisions
    assert (reply.action, reply.payload["tier"]) == ("send_automated_answer", 1)
    assert reply.payload["answer"] == (
        "I am sorry: order o1 of 14 November 2023 is delayed at our warehouse: promised for "
        "Friday 17 November, now expected on Monday 20 November. You can follow it with DHL: "
        f"{TRACK}.")
    assert reply.payload["shipment"]["status"] == "delayed"
    assert reply.payload["shipment"]["delay_days"] == 3.0
    assert [r.code for r in reply.reasons] == ["intent_recognised", "order_on_file",
                                               "shipment_status", "calm_message"]


@pytest.mark.parametrize(("later", "answer"), [
    ([], "Order o1 of 14 November 2023 shipped on Tuesday 14 November with DHL, expected on "
         f"Friday 17 November. You can follow it with DHL: {TRACK}."),
    ([("fulfilment", shipment(T0 + 2 * DAY, "o1", "delivered", customer=JOHN))],
     "Order o1 of 14 November 2023 was delivered on Thursday 16 November. If you cannot find "
     "it, reply here and a colleague will look into it with the carrier."),
])
def test_the_answer_follows_the_parcel(engine: Engine, later: list[Any], answer: str) -> None:
    _, decisions = feed(engine, [bought(), shipped(), *later,
                                 *contact(T0 + 2 * DAY + HOUR, "cv1", WHERE)])
    assert decisions[0].payload["answer"] == answer


def test_without_shipment_events_the_answer_stays_the_general_one(engine: Engine) -> None:
    _, decisions = feed(engine, [bought(), *contact(T0 + 2 * DAY, "cv1", WHERE)])
    assert "tracking link in your shipping confirmation" in decisions[0].payload["answer"]
    assert "shipment" not in decisions[0].payload


def test_an_agents_draft_says_where_the_parcel_is(engine: Engine) -> None:
    text = "Where is my order? It was due days ago and I am really frustrated."
    _, decisions = feed(engine, [bought(), shipped(), delayed(),
                                 *contact(T0 + 4 * DAY, "cv1", text)])
    (reply,) = decisions
    assert reply.payload["tier"] == 2
    assert reply.payload["draft"].endswith(
        "I have checked where it is: delayed at our warehouse: promised for Friday 17 November, "
        "now expected on Monday 20 November.")
    assert "[status and expected delivery]" not in reply.payload["draft"]
    assert "Parcel delayed at our warehouse" in reply.payload["agent_note"]


def test_one_reply_per_message_keyed_on_the_event(engine: Engine) -> None:
    events = [bought(), *contact(T0 + 2 * DAY, "cv1", WHERE),
              ("support", support(T0 + 2 * DAY + 5 * MINUTE, "cv1", "Thanks!", customer=JOHN,
                                  event_id="thanks-1"))]
    profile, decisions = feed(engine, events)
    assert [d.payload["intent"] for d in decisions] == ["order_status", "thanks"]
    assert decisions[1].causing_event_id == "thanks-1"
    again = engine.step(profile, CID, "support", events[-1][1])
    assert again.duplicate and again.decisions == []


def test_unknown_question_is_drafted_for_an_agent_with_the_customers_facts(
    engine: Engine,
) -> None:
    _, decisions = feed(engine, [bought(), *contact(T0 + 3 * DAY, "cv1",
                                                    "Do you sell gift cards?")])
    (reply,) = decisions
    assert (reply.action, reply.channel) == ("draft_for_agent", "support_desk")
    assert reply.payload["tier"] == 2
    assert reply.payload["intent"] is None
    assert [r.code for r in reply.reasons] == ["intent_unknown"]
    draft = reply.payload["draft"]
    assert "order o1 of 14 November 2023" in draft
    assert "hp-7 (headphones)" in reply.payload["agent_note"]
    assert "3 days ago" in reply.payload["agent_note"]
    assert reply.payload["value_bucket"] == "middle"
    assert reply.payload["customer"]["orders"] == 1
    assert [o["order_id"] for o in reply.payload["recent_orders"]] == ["o1"]
    assert [m["text"] for m in reply.payload["conversation"]] == ["Do you sell gift cards?"]


def test_negative_message_from_an_ordinary_customer_goes_to_an_agent_not_the_bot(
    engine: Engine,
) -> None:
    text = "Where is my order? It was due days ago and I am really frustrated."
    _, decisions = feed(engine, [bought(), *contact(T0 + 2 * DAY, "cv1", text)])
    (reply,) = decisions  # no escalation: an ordinary customer, first contact
    assert reply.payload["tier"] == 2
    assert reply.payload["intent"] == "order_status"
    assert reply.scores["intent_confidence"] >= 0.6  # recognised: only the tone holds it back
    assert 0.6 <= reply.scores["negative_sentiment"] < 0.85
    assert [r.code for r in reply.reasons] == ["negative_sentiment"]
    assert reply.payload["draft"].startswith("Hi, I am really sorry about this.")


def test_no_bot_reply_when_the_escalation_fires(engine: Engine) -> None:
    text = "Where is my order? If this is not sorted by Friday I will contact my lawyer."
    events = [bought(), *contact(T0 + 2 * DAY, "cv1", text),
              ("support", support(T0 + 2 * DAY + 9 * MINUTE, "cv1", "Hello? Where is it?",
                                  customer=JOHN))]
    _, decisions = feed(engine, events)
    assert [d.decision_type for d in decisions] == ["escalation"]
    assert decisions[0].payload["tier"] == 3


def test_high_value_negative_repeat_contact_within_a_week_bypasses_the_bot(
    engine: Engine,
) -> None:
    events = [bought(total=600.0), *contact(T0 + DAY, "cv1", WHERE),
              *contact(T0 + 6 * DAY, "cv2", ANGRY)]  # five days later: past the 3-day rule
    _, decisions = feed(engine, events)
    assert [d.decision_type for d in decisions] == ["support_reply", "escalation"]
    escalation = decisions[1]
    assert [r.code for r in escalation.reasons] == ["bypass_bot"]
    assert escalation.payload["conversation"][0]["text"] == ANGRY
    assert escalation.payload["previous_contacts"] == [T0 + DAY]


def test_low_value_negative_repeat_contact_gets_a_draft_not_a_bypass(engine: Engine) -> None:
    events = [bought(total=50.0), *contact(T0 + DAY, "cv1", WHERE),
              *contact(T0 + 6 * DAY, "cv2", ANGRY)]
    _, decisions = feed(engine, events)
    assert [d.decision_type for d in decisions] == ["support_reply", "support_reply"]
    assert decisions[1].payload["tier"] == 2


@pytest.mark.parametrize(("gap_days", "text"), [(10, ANGRY), (5, WHERE)])
def test_high_value_bypass_needs_a_recent_and_negative_contact(
    engine: Engine, gap_days: int, text: str,
) -> None:
    events = [bought(total=600.0), *contact(T0 + DAY, "cv1", WHERE),
              *contact(T0 + (1 + gap_days) * DAY, "cv2", text)]
    _, decisions = feed(engine, events)
    assert [d.decision_type for d in decisions] == ["support_reply", "support_reply"]


def test_johns_second_contact_within_days_goes_to_an_agent_with_both_reasons(
    engine: Engine,
) -> None:
    events = [bought(total=600.0), *contact(T0 + DAY, "cv1", WHERE)]
    profile, _ = feed(engine, events)
    opened, message = contact(T0 + 3 * DAY, "cv2", ANGRY)
    _, at_open = feed(engine, [opened], profile)
    assert [r.code for r in at_open[0].reasons] == ["repeat_contact"]
    # The message itself: the escalation is not sent twice, and the bot stays out of it.
    result = engine.step(profile, CID, "support", message[1])
    assert result.decisions == []


def test_classifier_reads_the_question_behind_the_pleasantries() -> None:
    intent, confidence = classify_intent("Thanks! But where is my order?")
    assert intent is not None and intent.name == "order_status"
    assert confidence == pytest.approx(0.7)
    intent, _ = classify_intent("Thank you so much, that was quick!")
    assert intent is not None and intent.name == "thanks"
    intent, confidence = classify_intent("Your return process is a nightmare, money back now.")
    assert intent is not None and confidence < 0.6  # refund vs return: too close to call


def outcome(profile: CustomerProfile) -> str:
    assert profile.conversation is not None
    return conversation_outcome(profile.conversation)


def test_conversation_outcome(engine: Engine) -> None:
    bot = [*contact(T0, "cv1", WHERE),
           ("support", support(T0 + 2 * MINUTE, "cv1", "It ships today.", author="bot",
                               customer=JOHN))]
    profile, _ = feed(engine, bot)
    assert outcome(profile) == "open"
    profile, _ = feed(engine, [("support", support(T0 + 3 * MINUTE, "cv1", None,
                                                   kind="resolved", author="bot",
                                                   customer=JOHN))], profile)
    assert outcome(profile) == "contained"

    agent = [*contact(T0 + DAY, "cv2", WHERE),
             ("support", support(T0 + DAY + 2 * MINUTE, "cv2", "Let me check.", author="agent",
                                 customer=JOHN)),
             ("support", support(T0 + DAY + 3 * MINUTE, "cv2", None, kind="resolved",
                                 author="agent", customer=JOHN))]
    profile, _ = feed(engine, agent, profile)
    assert outcome(profile) == "escalated"


def test_is_repeat_contact(engine: Engine) -> None:
    week = 7 * DAY
    profile, _ = feed(engine, contact(T0, "cv1", WHERE))
    assert not is_repeat_contact(profile, T0 + MINUTE, week)
    profile, _ = feed(engine, contact(T0 + 5 * DAY, "cv2", WHERE), profile)
    assert is_repeat_contact(profile, T0 + 5 * DAY, week)
    assert not is_repeat_contact(profile, T0 + 5 * DAY, 3 * DAY)
    profile, _ = feed(engine, contact(T0 + 13 * DAY, "cv3", WHERE), profile)
    assert not is_repeat_contact(profile, T0 + 13 * DAY, week)
