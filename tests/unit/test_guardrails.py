"""Guardrails and experiments with the default settings: what stops, delays or holds out a
decision, that it is logged with the rule, and what the attribution window counts."""

from __future__ import annotations

from nextbest.decisions.record import Decision, Reason
from nextbest.engine import Engine, StepResult
from nextbest.experiments import HOLDOUT, arm_for
from nextbest.guardrails import Guardrails, IncentiveBudget
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings
from tests.events import DAY, MINUTE, click, identity, order, review

NOON = 1_700_049_600_000  # 2023-11-15 12:00 UTC
HOUR = 3_600_000


def customer(arm: str, settings: EngineSettings, *, not_arm: bool = False) -> str:
    """A customer id that lands in ``arm`` (or, with not_arm, anywhere else)."""
    for i in range(10_000):
        cid = f"nb-g{i}"
        if (arm_for(cid, "winback", settings) == arm) != not_arm:
            return cid
    raise AssertionError("no such customer")


def lapsed(engine: Engine, cid: str, *, start: int = NOON) -> tuple[CustomerProfile, int]:
    """Five weekly orders; returns the profile and the moment its win-back is due: silent
    beyond the lapse threshold and quiet (not seen at all) for ``winback_quiet_days``."""
    profile = None
    for k in range(5):
        profile = engine.step(profile, cid, "purchase", order(start + k * 7 * DAY, f"{cid}-o{k}",
                                                              category="coffee")).profile
    assert profile is not None
    quiet = int(engine.settings.winback_quiet_days * DAY)
    return profile, max(profile.due["winback"], profile.last_seen + quiet)


def statuses(result: StepResult) -> list[tuple[str, str, str | None]]:
    return [(entry.decision.decision_type, entry.status, entry.rule) for entry in result.logged]


def test_opted_out_customer_gets_nothing_and_the_rule_is_logged() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile, due = lapsed(engine, cid)
    for channel in ("email", "push", "sms"):
        profile = engine.step(profile, cid, "identity", identity(
            NOON + 30 * DAY, "consent_revoked", channel=channel)).profile
    result = engine.wake(profile, due + 1)
    assert result.decisions == []
    # No channel is left, so the policy itself sends nothing; a global opt-out is the guardrail.
    profile.consent = {"all": False}
    decision = _message(cid, "winback", "email", NOON)
    verdict = engine.guardrails.review(profile, decision, NOON)
    assert (verdict.status, verdict.rule) == ("suppressed", "consent")


def test_second_message_on_a_channel_within_a_day_is_capped() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile = CustomerProfile(cid)
    first = engine.guardrails.review(profile, _message(cid, "winback", "email", NOON), NOON)
    assert first.status == "sent"
    profile.contacts.append([NOON, "email"])
    second = engine.guardrails.review(profile, _message(cid, "loyalty_reward", "email", NOON),
                                      NOON + 2 * HOUR)
    assert (second.status, second.rule) == ("suppressed", "frequency_cap")
    # Another channel is fine the same day; the next day the email cap is free again.
    push = engine.guardrails.review(profile, _message(cid, "loyalty_reward", "push", NOON),
                                    NOON + 2 * HOUR)
    assert push.status == "sent"
    later = _message(cid, "loyalty_reward", "email", NOON + DAY + HOUR)
    assert engine.guardrails.review(profile, later, NOON + DAY + HOUR).status == "sent"


def test_message_in_quiet_hours_waits_for_the_morning_in_the_customers_zone() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile, due = lapsed(engine, cid)
    profile.timezone = "America/New_York"  # noon UTC is 07:00 there: still quiet
    wake_at = due - due % DAY + 12 * HOUR
    held = engine.wake(profile, wake_at)
    assert held.decisions == []
    assert statuses(held) == [("winback", "deferred", "quiet_hours")]
    release = profile.due["held"]
    assert release == wake_at + HOUR  # 08:00 in New York
    sent = engine.wake(profile, release)
    assert [d.decision_type for d in sent.decisions] == ["winback"]
    assert statuses(sent) == [("winback", "sent", None)]


def test_cart_reminder_waits_a_day_and_is_dropped_if_the_cart_was_bought() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    add = click(NOON, "add_to_cart", item_id="tent", category="camping", price=120.0)
    profile = engine.step(None, cid, "clickstream", add).profile
    held = engine.wake(profile, NOON + 31 * MINUTE)
    assert statuses(held) == [("cart_reminder", "deferred", "behavioural_delay")]
    assert profile.due["held"] == NOON + DAY
    bought = engine.step(profile, cid, "purchase", order(NOON + 2 * HOUR, "o1", item_id="tent"))
    released = engine.wake(bought.profile, NOON + DAY)
    assert released.decisions == []
    assert statuses(released) == [("cart_reminder", "suppressed", "no_longer_relevant")]


def test_cart_reminder_goes_out_after_the_delay_when_the_cart_is_still_there() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    add = click(NOON, "add_to_cart", item_id="tent", category="camping", price=120.0)
    profile = engine.step(None, cid, "clickstream", add).profile
    engine.wake(profile, NOON + 31 * MINUTE)
    released = engine.wake(profile, NOON + DAY)
    assert [d.decision_type for d in released.decisions] == ["cart_reminder"]


def test_no_marketing_after_a_complaint() -> None:
    # No wait for quiet: the complaint itself is a sign of the customer.
    engine = Engine(EngineSettings(winback_quiet_days=0.0))
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile, due = lapsed(engine, cid)
    profile = engine.step(profile, cid, "review", review(
        due - DAY, "beans", 1, "Stale beans, awful.")).profile
    wake_at = due - due % DAY + 12 * HOUR + DAY
    result = engine.wake(profile, wake_at)
    assert result.decisions == []
    assert statuses(result) == [("winback", "suppressed", "after_complaint")]


def test_out_of_stock_items_are_dropped_and_an_empty_reminder_is_suppressed() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    engine.models.update_catalog({"item_id": "tent", "category": "camping", "tags": [],
                                  "price": 120.0, "stock": 0})
    decision = _message(cid, "cart_reminder", "email", NOON, payload={
        "items": [{"item_id": "tent"}], "recommendations": []})
    verdict = engine.guardrails.review(CustomerProfile(cid), decision, NOON + DAY)
    assert (verdict.status, verdict.rule) == ("suppressed", "out_of_stock")
    for item in ("mat", "stove"):
        engine.models.update_catalog({"item_id": item, "category": "camping", "tags": [],
                                      "price": 30.0, "stock": 5})
    shown = CustomerProfile(cid, shown={"mat": 3})
    mixed = _message(cid, "winback", "email", NOON, payload={  # "lamp": never seen anywhere
        "recommendations": [{"item_id": "tent"}, {"item_id": "mat"}, {"item_id": "stove"},
                            {"item_id": "lamp"}]})
    kept = engine.guardrails.review(shown, mixed, NOON)
    assert kept.status == "sent"
    assert [r["item_id"] for r in kept.decision.payload["recommendations"]] == ["stove"]


def test_incentives_are_bounded_by_value_and_by_the_days_budget() -> None:
    settings = EngineSettings(incentive_budget_per_day=20.0, incentive_value_share=0.1)
    budget = IncentiveBudget()
    guardrails = Guardrails(settings, budget=budget)
    cid = customer(HOLDOUT, settings, not_arm=True)
    valuable = CustomerProfile(cid, orders=4, revenue=800.0)  # average order 200 -> cap 20
    offer = _message(cid, "next_best_offer", "email", NOON, causing=NOON - 2 * DAY,
                     payload={"offer": {"offer_id": "d10", "cost": 15.0}})
    assert guardrails.review(valuable, offer, NOON).status == "sent"
    budget.spend(NOON, 15.0, cid)
    verdict = guardrails.review(valuable, offer, NOON + HOUR)
    assert (verdict.status, verdict.rule) == ("suppressed", "incentive_budget")
    small = CustomerProfile(cid, orders=2, revenue=60.0)  # average order 30 -> cap 3
    verdict = guardrails.review(small, offer, NOON + DAY)
    assert (verdict.status, verdict.rule) == ("suppressed", "incentive_above_value")


def test_holdout_customer_is_logged_not_sent_and_its_outcome_is_counted() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings)
    profile, due = lapsed(engine, cid)
    wake_at = due - due % DAY + 12 * HOUR + DAY
    result = engine.wake(profile, wake_at)
    assert result.decisions == []
    assert statuses(result) == [("winback", "control", None)]
    assert result.logged[0].decision.experiment_arm == HOLDOUT
    # The customer comes back on their own within the window: the control group converts too.
    profile = engine.step(profile, cid, "purchase",
                          order(wake_at + 2 * DAY, "back", total=30.0)).profile
    closed = engine.wake(profile, wake_at + 7 * DAY)
    (outcome,) = closed.outcomes
    assert (outcome.experiment_arm, outcome.sent, outcome.orders, outcome.revenue) == (
        HOLDOUT, False, 1, 30.0)


def test_treated_customer_outcome_records_redemption() -> None:
    engine = Engine(EngineSettings())
    cid = customer(HOLDOUT, engine.settings, not_arm=True)
    profile, due = lapsed(engine, cid)
    wake_at = due - due % DAY + 12 * HOUR + DAY
    (winback,) = engine.wake(profile, wake_at).decisions
    assert winback.experiment_arm == "treatment"
    redeem = {**order(wake_at + DAY, "back", total=40.0), "decision_id": winback.decision_id}
    profile = engine.step(profile, cid, "purchase", redeem).profile
    (outcome,) = engine.wake(profile, wake_at + 7 * DAY).outcomes
    assert (outcome.sent, outcome.redeemed, outcome.converted) == (True, True, True)
    assert "attribution" not in profile.due


def test_holdout_share_and_arms_are_deterministic() -> None:
    settings = EngineSettings(holdout_share=0.1,
                              experiment_arms={"winback": {"control": 1.0, "b": 1.0}})
    arms = [arm_for(f"c{i}", "winback", settings) for i in range(4_000)]
    held = arms.count(HOLDOUT) / len(arms)
    assert 0.08 < held < 0.12
    assert abs(arms.count("control") - arms.count("b")) < 0.1 * len(arms)
    assert arms == [arm_for(f"c{i}", "winback", settings) for i in range(4_000)]
    assert {arm_for(f"c{i}", "cart_reminder", settings) for i in range(100)} <= {
        HOLDOUT, "treatment"}


def _message(cid: str, decision_type: str, channel: str, at: int, *,
             payload: dict[str, object] | None = None, causing: int | None = None) -> Decision:
    return Decision.create(
        decision_type=decision_type, customer_id=cid, trigger=f"{decision_type}:{at}:{channel}",
        action="send_message", channel=channel, payload=payload or {},
        reasons=(Reason("test", "A test decision."),), causing_event_id="e",
        causing_event_time=causing if causing is not None else at, decided_at=at,
        ttl_ms=7 * DAY)
