"""Lisa's two-step recovery (use case 1): the apology asks, her answer decides what follows."""

from __future__ import annotations

from typing import Any

import pytest

from nextbest.decisions.policies.recovery_replies import read_reply, recovery_conversation
from nextbest.decisions.record import Decision
from nextbest.engine import Engine
from nextbest.profile.state import CustomerProfile
from tests.events import DAY, order, policy_settings, support
from tests.stepping import feed

CID = "nb-lisa"
HOUR = 3_600_000


@pytest.fixture
def engine() -> Engine:
    return Engine(policy_settings())


def step_all(engine: Engine, steps: list[tuple[str, dict[str, Any]]],
             profile: CustomerProfile | None = None
             ) -> tuple[CustomerProfile, list[Decision]]:
    return feed(engine, CID, steps, profile)


def apologised(engine: Engine, *, revenue: float = 60.0
               ) -> tuple[CustomerProfile, Decision]:
    profile, decisions = step_all(engine, [
        ("purchase", order(0, "o-dress", total=revenue)),
        ("purchase", order(3 * DAY, "o-dress", total=revenue, kind="return",
                           reason="defective")),
    ])
    (apology,) = decisions
    return profile, apology


def answer(engine: Engine, profile: CustomerProfile, text: str, *, at: int = 3 * DAY + HOUR,
           conversation: str = recovery_conversation("o-dress")) -> list[Decision]:
    return step_all(engine, [("support", support(at, conversation, text))], profile)[1]


def test_the_apology_asks_whether_all_was_resolved_and_offers_nothing_yet(
        engine: Engine) -> None:
    _, apology = apologised(engine)
    assert apology.decision_type == "service_recovery"
    assert apology.payload["template"] == "apology_ask_if_resolved"
    assert apology.payload["conversation_id"] == "recovery-o-dress"
    assert "offer" not in apology.payload
    assert [r.code for r in apology.reasons] == ["return_defective", "asked_if_resolved"]


def test_satisfied_but_disappointed_earns_a_gesture_scaled_by_value(engine: Engine) -> None:
    profile, _ = apologised(engine)
    (gesture,) = answer(engine, profile,
                        "I was happy with the refund, but disappointed with the dress.")
    assert (gesture.decision_type, gesture.payload["template"]) == (
        "service_recovery", "apology_with_offer")
    assert gesture.payload["order_id"] == "o-dress"
    newcomer = gesture.payload["offer"]["percent"]
    assert [r.code for r in gesture.reasons] == ["answer_disappointed", "offer_scaled_by_value"]

    loyal = Engine(policy_settings())
    profile, _ = step_all(loyal, [
        *(("purchase", order(i * 30 * DAY, f"o{i}", total=200.0)) for i in range(14)),
        ("purchase", order(400 * DAY, "o13", total=200.0, kind="return", reason="defective")),
    ])
    (richer,) = answer(loyal, profile, "Happy with the refund, disappointed with the dress.",
                       at=400 * DAY + HOUR, conversation=recovery_conversation("o13"))
    assert richer.payload["offer"]["percent"] == 30.0  # the maximum
    # a one-order newcomer: near the base (the churn model's expected value adds a little)
    assert 10.0 <= newcomer <= 15.0


def test_satisfied_gets_a_thank_you_and_nothing_more(engine: Engine) -> None:
    profile, _ = apologised(engine)
    (thanks,) = answer(engine, profile, "Yes, all sorted, thank you!")
    assert (thanks.decision_type, thanks.payload["template"]) == ("service_recovery",
                                                                  "thank_you_recovery")
    assert "offer" not in thanks.payload  # and, by the unpacking, no support reply on top


@pytest.mark.parametrize("text", ["No, it is still broken and nobody helped. Terrible.",
                                  "Not really.", "I am furious about this."])
def test_angry_or_no_better_goes_to_a_person_with_the_context(engine: Engine, text: str) -> None:
    profile, _ = apologised(engine)
    (handoff,) = answer(engine, profile, text)
    assert (handoff.decision_type, handoff.action) == ("escalation", "route_to_agent")
    assert handoff.payload["conversation_id"] == "recovery-o-dress"
    assert handoff.payload["recent_orders"] and handoff.payload["conversation"]
    assert handoff.reasons[0].code == "answer_unresolved"


def test_only_the_first_answer_decides_later_messages_are_ordinary_support(
        engine: Engine) -> None:
    profile, _ = apologised(engine)
    (gesture,) = answer(engine, profile, "Refund was fine, but the dress was poor quality.")
    assert gesture.decision_type == "service_recovery"
    later = answer(engine, profile, "Where is my refund?", at=3 * DAY + 5 * HOUR)
    assert [d.decision_type for d in later] == ["support_reply"]


def test_a_message_in_another_conversation_is_not_an_answer(engine: Engine) -> None:
    profile, _ = apologised(engine)
    decisions = answer(engine, profile, "Happy with the refund, disappointed with the dress.",
                       conversation="conv-1")
    assert [d.decision_type for d in decisions] == ["support_reply"]


@pytest.mark.parametrize(("text", "reading"), [
    ("Happy with the refund, disappointed with the dress.", "disappointed"),
    ("Yes thank you, but I am still disappointed about the quality", "disappointed"),
    ("Yes, all sorted, thank you!", "satisfied"),
    ("ok", "satisfied"),
    ("still waiting for my refund", "unresolved"),
    ("The dress was awful.", "unresolved"),
])
def test_answers_are_read_clause_by_clause(text: str, reading: str) -> None:
    assert read_reply(text) == reading
