from __future__ import annotations

import pytest

from nextbest.engine import Engine
from nextbest.profile.state import CustomerProfile
from tests.events import DAY, MINUTE, click, identity, order, policy_settings, support

CID = "nb-test"


@pytest.fixture
def engine() -> Engine:
    return Engine(policy_settings())


def run(engine: Engine, family: str, events: list[dict]) -> tuple[CustomerProfile, list]:
    profile, decisions = None, []
    for event in events:
        result = engine.step(profile, CID, family, event)
        profile = result.profile
        decisions.extend(result.decisions)
    assert profile is not None
    return profile, decisions


def test_defective_return_gets_an_apology_that_asks_first(engine: Engine) -> None:
    _, decisions = run(engine, "purchase", [
        order(0, "o1", total=60.0), order(DAY, "o1", kind="return", reason="defective")])
    (recovery,) = decisions
    assert recovery.decision_type == "service_recovery"
    assert recovery.payload["ask_if_resolved"] and "offer" not in recovery.payload
    assert recovery.scores["expected_value"] >= 0.0
    assert recovery.causing_event_time == DAY
    # what the answer leads to, scaled by value: tests/unit/test_service_recovery.py


def test_return_for_other_reasons_gets_nothing(engine: Engine) -> None:
    _, decisions = run(engine, "purchase", [
        order(0, "o1"), order(DAY, "o1", kind="return", reason="changed_mind")])
    assert decisions == []


def test_replayed_event_changes_nothing_and_sends_nothing(engine: Engine) -> None:
    ret = order(DAY, "o1", kind="return", reason="defective", event_id="ret-1")
    profile, first = run(engine, "purchase", [order(0, "o1"), ret])
    again = engine.step(profile, CID, "purchase", ret)
    assert len(first) == 1
    assert again.duplicate and again.decisions == []
    assert again.profile.returns == 1


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (support(0, "c1", "I am calling my lawyer about this."), "legal_words"),
        (support(0, "c1", "Please refund me", refund=450.0), "refund_above_limit"),
    ],
)
def test_hard_triggers_escalate_with_context(engine: Engine, event: dict, reason: str) -> None:
    _, decisions = run(engine, "support", [event])
    (escalation,) = decisions
    assert escalation.decision_type == "escalation"
    assert [r.code for r in escalation.reasons] == [reason]
    assert escalation.payload["conversation"][0]["text"] == event["text"]


def test_small_refund_and_calm_words_stay_with_the_bot(engine: Engine) -> None:
    _, decisions = run(engine, "support", [support(0, "c1", "Where is my parcel?", refund=20.0)])
    assert [d.decision_type for d in decisions] == ["support_reply"]


def test_repeat_contact_within_three_days_escalates_once(engine: Engine) -> None:
    profile, _ = run(engine, "purchase", [order(0, "o1", total=300.0, category="headphones")])
    decisions = []
    for event in [
        support(DAY, "c1", "Where are my headphones?", order_id="o1"),
        support(DAY + 5 * MINUTE, "c1", "Thanks", author="bot"),
        support(3 * DAY, "c2", "Still nothing. This is unacceptable.", order_id="o1"),
        support(3 * DAY + MINUTE, "c2", "Hello??", order_id="o1"),
    ]:
        result = engine.step(profile, CID, "support", event)
        profile, decisions = result.profile, decisions + result.decisions
    (escalation,) = [d for d in decisions if d.decision_type == "escalation"]
    assert [r.code for r in escalation.reasons] == ["repeat_contact"]
    assert escalation.payload["recent_orders"][0]["order_id"] == "o1"
    assert escalation.payload["customer"]["revenue"] == 300.0


def test_second_contact_after_the_window_is_not_repeat(engine: Engine) -> None:
    _, decisions = run(engine, "support", [
        support(0, "c1", "Where is my order?"), support(5 * DAY, "c2", "Another question")])
    assert [d.decision_type for d in decisions] == ["support_reply", "support_reply"]


def test_cart_reminder_after_delay_unless_ordered(engine: Engine) -> None:
    profile, _ = run(engine, "clickstream", [
        click(0, "add_to_cart", item_id="i1", category="shoes", price=80.0)])
    assert engine.wake(profile, 10 * MINUTE).decisions == []
    (reminder,) = engine.wake(profile, 31 * MINUTE).decisions
    assert reminder.decision_type == "cart_reminder"
    assert reminder.payload["items"][0]["item_id"] == "i1"
    assert engine.wake(profile, 90 * MINUTE).decisions == []

    bought, _ = run(engine, "clickstream", [click(0, "add_to_cart", item_id="i1", price=80.0)])
    bought = engine.step(bought, CID, "purchase", order(5 * MINUTE, "o1", item_id="i1")).profile
    assert engine.wake(bought, 31 * MINUTE).decisions == []


def test_winback_when_silent_beyond_own_gap(engine: Engine) -> None:
    weekly = [order(i * 10 * DAY, f"o{i}", category="coffee") for i in range(5)]
    profile, _ = run(engine, "purchase", weekly)
    last = 40 * DAY
    # Usual gap 10 d (the population's, learnt from this customer alone, is 10 d too) x 2.
    assert profile.due["winback"] == last + 20 * DAY
    assert engine.wake(profile, last + 20 * DAY).decisions == []  # seen 20 days ago: not quiet
    assert engine.wake(profile, last + 28 * DAY - 1).decisions == []
    (winback,) = engine.wake(profile, last + 28 * DAY).decisions  # quiet for 28 days
    assert winback.decision_type == "winback"
    assert winback.payload["last_category"] == "coffee"
    assert "every 10 days" in winback.reasons[0].text
    assert winback.payload["sequence_step"] == 1
    (followup,) = engine.wake(profile, last + 35 * DAY).decisions  # the sequence's 2nd step
    assert followup.payload["sequence_step"] == 2
    assert engine.wake(profile, last + 60 * DAY).decisions == []  # once per lapse


def test_winback_waits_while_the_customer_is_still_around(engine: Engine) -> None:
    weekly = [order(i * 10 * DAY, f"o{i}", category="coffee") for i in range(5)]
    profile, _ = run(engine, "purchase", weekly)
    last = 40 * DAY
    # Opens a newsletter 25 days after the last order: quiet for 28 days only from then on.
    profile = engine.step(profile, CID, "clickstream", [
        click(last + 25 * DAY, "email_open")][0]).profile
    assert engine.wake(profile, last + 28 * DAY).decisions == []
    assert engine.wake(profile, last + 53 * DAY - 1).decisions == []
    (winback,) = engine.wake(profile, last + 53 * DAY).decisions
    assert winback.decision_type == "winback"


def test_winback_judges_a_single_short_gap_against_the_population(engine: Engine) -> None:
    for k in range(3):  # the population orders every 30 days
        other = None
        for i in range(3):
            other = engine.step(other, f"nb-{k}", "purchase",
                                order(i * 30 * DAY, f"p{k}-{i}")).profile
    burst = [order(60 * DAY, "o0", category="coffee"), order(61 * DAY, "o1", category="coffee")]
    profile, _ = run(engine, "purchase", burst)
    prior = engine.models.churn.prior_gap_days
    assert prior == pytest.approx(30.0)
    # One gap of a day counts as one gap against the population's usual gap, not as a rhythm.
    judged = (1 + prior) / 2
    assert profile.due["winback"] == 61 * DAY + int(judged * 2 * DAY)


def test_winback_is_relative_to_the_customers_own_rhythm(engine: Engine) -> None:
    rare = [order(i * 90 * DAY, f"o{i}") for i in range(3)]
    profile, _ = run(engine, "purchase", rare)
    assert engine.wake(profile, 180 * DAY + 30 * DAY).decisions == []


def test_opt_out_of_every_channel_silences_messages(engine: Engine) -> None:
    events = [identity(0, "consent_revoked", channel="all")]
    profile, _ = run(engine, "identity", events)
    result = engine.step(profile, CID, "purchase", order(DAY, "o1", kind="return",
                                                        reason="defective"))
    assert result.decisions == []


def test_profile_round_trips_through_dict(engine: Engine) -> None:
    profile, _ = run(engine, "support", [support(0, "c1", "hello")])
    profile = engine.step(profile, CID, "purchase", order(DAY, "o1")).profile
    cart = click(DAY, "add_to_cart", item_id="x")
    profile = engine.step(profile, CID, "clickstream", cart).profile
    assert CustomerProfile.from_dict(profile.to_dict()) == profile
