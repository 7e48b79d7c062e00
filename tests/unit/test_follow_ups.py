"""Follow-up decisions through the engine: win-back tiers, next best offer, loyalty rewards and
review follow-ups, with the explanations every one of them carries.

Policy behaviour runs with ``policy_settings()`` (timing guardrails and the holdout out of the
way); the behavioural delay and the holdout are exercised with the defaults where they matter.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nextbest.decisions.record import Decision
from nextbest.engine import Engine, StepResult
from nextbest.experiments import HOLDOUT, arm_for
from nextbest.guardrails import incentive_cap
from nextbest.models.offers import DEFAULT_OFFERS
from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings
from tests.events import DAY, MINUTE, click, identity, order, policy_settings, review, support

NOON = 1_700_049_600_000  # 2023-11-15 12:00 UTC: outside the default quiet hours
HOUR = 3_600_000
OWNERS = ("Ana", "Ben", "Cleo", "Dev")


class TieredSuite(ModelSuite):
    """The real model suite with the value tier pinned.

    ``ModelSuite._score_churn`` (run on every order and again by ``Engine.wake`` through
    ``rescore``) overwrites ``profile.scores["value_tier"]`` with ``self.value_tier(expected
    value)``, which answers "middle" until ``TIER_MIN_CUSTOMERS`` customers have been scored and
    then compares against streaming quantiles of everyone's value. Setting the score on the
    profile would therefore be undone at wake time, and scoring 50 made-up customers would make
    the tier depend on quantile estimates. Overriding only the quantile lookup keeps everything
    else real: the churn model still scores, ``rescore`` still writes the tier on the profile,
    and the policy reads it from there exactly as in production.
    """

    def __init__(self, tier: str) -> None:
        super().__init__()
        self.tier = tier

    def value_tier(self, expected_value: float) -> str:
        return self.tier


def tiered(tier: str, **overrides: Any) -> Engine:
    settings = policy_settings(account_owners=OWNERS, **overrides)
    return Engine(settings, models=TieredSuite(tier))


def purchase(time: int, order_id: str, *, discounted: bool = False, **kw: Any) -> dict[str, Any]:
    event = order(time, order_id, **kw)
    if discounted:
        event["discount_codes"] = ["SAVE10"]
    return event


def explained(decisions: list[Decision]) -> list[Decision]:
    """Every decision says why (a reason with words) and what the models scored."""
    for decision in decisions:
        assert decision.reasons, decision.decision_type
        assert all(r.code and r.text.strip() for r in decision.reasons), decision.reasons
        assert decision.scores, decision.decision_type
    return decisions


def types(result: StepResult) -> list[str]:
    return [d.decision_type for d in explained(result.decisions)]


def logged(result: StepResult) -> list[tuple[str, str, str | None]]:
    return [(e.decision.decision_type, e.status, e.rule) for e in result.logged]


# --- win-back tiers -----------------------------------------------------------------------


def lapsing(engine: Engine, cid: str, *, discounted: int = 0,
            category: str = "coffee") -> tuple[CustomerProfile, int]:
    """Five orders ten days apart (the first ``discounted`` with a code); the last one is in
    ``category``. Returns the profile and the moment the win-back goes out: due 20 days after
    (twice the usual gap), sent once the customer has been quiet for 28 days."""
    profile = None
    for k in range(5):
        cat = category if k == 4 else "coffee"
        event = purchase(k * 10 * DAY, f"{cid}-o{k}", total=100.0, category=cat,
                         item_id=f"{cat}-{k}", discounted=k < discounted)
        profile = engine.step(profile, cid, "purchase", event).profile
    assert profile is not None
    assert profile.due["winback"] == 40 * DAY + 20 * DAY
    return profile, 40 * DAY + 28 * DAY


def winbacks(result: StepResult) -> list[Decision]:
    return [d for d in explained(result.decisions) if d.decision_type == "winback"]


def test_top_tier_gets_a_personal_outreach_task_for_an_account_owner() -> None:
    engine = tiered("top")
    profile, due = lapsing(engine, "nb-top", category="espresso-machines")
    assert engine.wake(profile, due - 1).decisions == []
    (task,) = winbacks(engine.wake(profile, due))
    assert (task.action, task.channel) == ("create_task", "task")
    payload = task.payload
    assert payload["tier"] == "top"
    assert payload["owner"] in OWNERS
    assert payload["owner"] in task.reasons[0].text
    assert payload["last_category"] == "espresso-machines"
    assert any("espresso-machines" in r.text for r in task.reasons)
    # The full picture for the person reaching out: orders, value, scores.
    assert [o["order_id"] for o in payload["recent_orders"]] == [f"nb-top-o{k}" for k in range(5)]
    assert payload["last_order_id"] == "nb-top-o4"
    facts = payload["customer"]
    assert (facts["orders"], facts["revenue"], facts["value_tier"]) == (5, 500.0, "top")
    assert facts["usual_gap_days"] == 10.0 and facts["days_since_last_order"] == 28.0
    assert facts["churn_risk"] is not None and facts["expected_value"] is not None
    assert {"churn_risk", "value_tier"} <= {r.code for r in task.reasons}
    # A task, not a message: no sequence, no second step.
    assert "winback_step2" not in profile.due
    assert winbacks(engine.wake(profile, due + 8 * DAY)) == []


def test_account_owner_is_deterministic_per_customer_and_spread_over_owners() -> None:
    def owner(cid: str) -> str:
        engine = tiered("top")
        profile, due = lapsing(engine, cid)
        (task,) = winbacks(engine.wake(profile, due))
        return str(task.payload["owner"])

    first = {f"nb-own{i}": owner(f"nb-own{i}") for i in range(12)}
    again = {cid: owner(cid) for cid in first}
    assert first == again
    assert set(first.values()) <= set(OWNERS)
    assert len(set(first.values())) > 1  # one owner per customer, not one owner for all


@pytest.mark.parametrize(
    ("discounted", "kind"),
    [(0, "upgrade"), (1, "upgrade"), (2, "discount"), (5, "discount")],
    ids=["never", "below-share", "at-least-share", "always"],
)
def test_middle_tier_gets_a_two_step_sequence_with_an_offer_fitted_to_the_customer(
    discounted: int, kind: str
) -> None:
    # price_sensitive_share 0.3: 1 of 5 orders (0.2) is not price sensitive, 2 of 5 (0.4) is.
    engine = tiered("middle")
    profile, due = lapsing(engine, "nb-mid", discounted=discounted, category="tea")
    (first,) = winbacks(engine.wake(profile, due))
    assert (first.action, first.channel) == ("send_message", "email")
    assert (first.payload["tier"], first.payload["sequence_step"]) == ("middle", 1)
    assert first.payload["sequence_steps"] == 2
    assert first.payload["last_category"] == "tea"
    assert any(r.code == "relationship" and "tea" in r.text for r in first.reasons)
    offer = first.payload["offer"]
    assert offer["kind"] == kind
    assert 0 < offer["cost"] <= incentive_cap(profile, engine.settings)
    assert first.scores["offer_cost"] == offer["cost"]
    assert {"incentive_fit", "offer_choice", "incentive_bound"} <= {r.code for r in first.reasons}

    assert winbacks(engine.wake(profile, due + 7 * DAY - 1)) == []
    (second,) = winbacks(engine.wake(profile, due + 7 * DAY))
    assert second.payload["sequence_step"] == 2
    assert second.payload["template"] == "winback_followup"
    assert second.payload["offer"]["kind"] == kind
    assert second.decision_id != first.decision_id
    assert winbacks(engine.wake(profile, due + 30 * DAY)) == []  # two steps, no third


def test_middle_tier_second_step_is_skipped_when_the_customer_ordered_meanwhile() -> None:
    engine = tiered("middle")
    profile, due = lapsing(engine, "nb-back")
    (first,) = winbacks(engine.wake(profile, due))
    assert first.payload["sequence_step"] == 1
    profile = engine.step(profile, "nb-back", "purchase",
                          purchase(due + 3 * DAY, "nb-back-o5", total=100.0)).profile
    result = engine.wake(profile, due + 7 * DAY)
    assert winbacks(result) == []
    assert [e for e in result.logged if e.decision.decision_type == "winback"] == []


def test_low_tier_gets_one_plain_email_without_offer_or_second_step() -> None:
    engine = tiered("low")
    profile, due = lapsing(engine, "nb-low", discounted=5, category="mugs")
    (email,) = winbacks(engine.wake(profile, due))
    assert (email.action, email.channel) == ("send_message", "email")
    assert email.payload["tier"] == "low"
    assert email.payload["offer"] is None
    assert "offer_cost" not in email.scores
    assert (email.payload["sequence_step"], email.payload["sequence_steps"]) == (1, 1)
    assert email.payload["last_category"] == "mugs"
    assert any("mugs" in r.text for r in email.reasons)
    assert "winback_step2" not in profile.due
    for later in (due + 7 * DAY, due + 30 * DAY):
        assert winbacks(engine.wake(profile, later)) == []


def test_low_tier_without_email_consent_is_let_lapse() -> None:
    engine = tiered("low")
    profile, due = lapsing(engine, "nb-quiet")
    profile = engine.step(profile, "nb-quiet", "identity",
                          identity(41 * DAY, "consent_revoked", channel="email")).profile
    due += DAY  # the revocation was seen a day after the last order: quiet from then on
    result = engine.wake(profile, due)
    assert result.decisions == []
    assert result.logged == []  # not even a candidate: no push or sms fallback for this tier
    # The middle tier with the same consent falls back to another channel.
    middle = tiered("middle")
    other, due = lapsing(middle, "nb-quiet")
    other = middle.step(other, "nb-quiet", "identity",
                        identity(41 * DAY, "consent_revoked", channel="email")).profile
    due += DAY
    (message,) = winbacks(middle.wake(other, due))
    assert message.channel == "push"


# --- next best offer ----------------------------------------------------------------------


def browse(engine: Engine, profile: CustomerProfile | None, cid: str, start: int,
           views: int) -> tuple[CustomerProfile, list[StepResult]]:
    results = []
    for i in range(views):
        event = click(start + i * MINUTE, "product_view", item_id=f"shoe-{start}-{i}",
                      category="shoes", price=90.0)
        result = engine.step(profile, cid, "clickstream", event)
        profile = result.profile
        results.append(result)
    assert profile is not None
    return profile, results


def offers_in(results: list[StepResult]) -> list[Decision]:
    return [d for r in results for d in explained(r.decisions)
            if d.decision_type == "next_best_offer"]


def test_browsing_customer_with_an_order_gets_one_next_best_offer() -> None:
    engine = Engine(policy_settings())
    views = engine.settings.offer_after_views
    profile = engine.step(None, "nb-nbo", "purchase", order(0, "o1", total=80.0)).profile
    profile, results = browse(engine, profile, "nb-nbo", DAY, views - 1)
    assert offers_in(results) == []
    profile, results = browse(engine, profile, "nb-nbo", 2 * DAY, 1)
    (decision,) = offers_in(results)
    offer = decision.payload["offer"]
    assert {"offer_id", "kind", "cost", "expected_redemption", "context"} <= set(offer)
    assert offer["offer_id"] in {o.offer_id for o in DEFAULT_OFFERS}
    assert 0 < offer["cost"] <= incentive_cap(profile, engine.settings)
    assert 0.0 <= offer["expected_redemption"] <= 1.0
    assert offer["context"]["bias"] == 1.0 and "discount_share" in offer["context"]
    codes = [r.code for r in decision.reasons]
    assert {"offer_choice", "incentive_bound"} <= set(codes)
    assert decision.payload["browsed_category"] == "shoes"
    assert decision.scores["offer_cost"] == offer["cost"]
    # More browsing in the same stretch: no second offer.
    profile, results = browse(engine, profile, "nb-nbo", 3 * DAY, 4)
    assert offers_in(results) == []
    assert [e for r in results for e in r.logged] == []
    # A new order opens a new stretch.
    profile = engine.step(profile, "nb-nbo", "purchase", order(4 * DAY, "o2", total=80.0)).profile
    profile, results = browse(engine, profile, "nb-nbo", 5 * DAY, views)
    (again,) = offers_in(results)
    assert again.decision_id != decision.decision_id
    assert again.payload["last_order_id"] == "o2"


def test_browsing_without_any_order_earns_no_offer() -> None:
    engine = Engine(policy_settings())
    _, results = browse(engine, None, "nb-stranger", 0, engine.settings.offer_after_views + 3)
    assert [e for r in results for e in r.logged] == []


def default_customer(settings: EngineSettings, decision_type: str) -> str:
    for i in range(1_000):
        cid = f"nb-f{i}"
        if arm_for(cid, decision_type, settings) != HOLDOUT:
            return cid
    raise AssertionError("no treated customer")


@pytest.mark.parametrize("orders_meanwhile", [False, True])
def test_next_best_offer_waits_the_behavioural_delay_and_drops_if_the_customer_orders(
    orders_meanwhile: bool,
) -> None:
    settings = EngineSettings()
    assert settings.behavioural_delay_hours == 24.0
    engine = Engine(settings)
    cid = default_customer(settings, "next_best_offer")
    profile = engine.step(None, cid, "purchase", order(NOON - 5 * DAY, "o1", total=80.0)).profile
    profile, results = browse(engine, profile, cid, NOON, settings.offer_after_views)
    assert [d for r in results for d in r.decisions] == []
    assert logged(results[-1]) == [("next_best_offer", "deferred", "behavioural_delay")]
    release = profile.due["held"]
    assert release == NOON + 2 * MINUTE + DAY
    if orders_meanwhile:
        profile = engine.step(profile, cid, "purchase",
                              order(NOON + 3 * HOUR, "o2", total=80.0)).profile
    result = engine.wake(profile, release)
    if orders_meanwhile:
        assert result.decisions == []
        assert logged(result) == [("next_best_offer", "suppressed", "no_longer_relevant")]
    else:
        assert types(result) == ["next_best_offer"]
    assert profile.held == []


def total_outcomes(engine: Engine) -> int:
    return sum(s["outcomes"] for s in engine.models.offers.stats().values())


def test_a_redeemed_offer_teaches_the_bandit_when_its_window_closes() -> None:
    engine = Engine(policy_settings())
    profile = engine.step(None, "nb-learn", "purchase", order(0, "o1", total=80.0)).profile
    profile, results = browse(engine, profile, "nb-learn", DAY, engine.settings.offer_after_views)
    (decision,) = offers_in(results)
    offer_id = decision.payload["offer"]["offer_id"]
    before = engine.models.offers.stats()[offer_id]
    assert before["outcomes"] == 0
    redeem = {**order(3 * DAY, "o2", total=80.0), "decision_id": decision.decision_id}
    profile = engine.step(profile, "nb-learn", "purchase", redeem).profile
    window_end = decision.decided_at + engine.settings.attribution_window_ms
    assert engine.wake(profile, window_end - 1).outcomes == []
    closed = engine.wake(profile, window_end)
    (outcome,) = [o for o in closed.outcomes if o.decision_id == decision.decision_id]
    assert (outcome.sent, outcome.redeemed, outcome.offer_id) == (True, True, offer_id)
    after = engine.models.offers.stats()[offer_id]
    assert after["outcomes"] == 1
    assert after["mean_reward"] == 1.0


def test_a_clicked_offer_teaches_the_bandit_a_take_up_and_an_ignored_one_none() -> None:
    engine = Engine(policy_settings())
    tallies = engine.models.offers.bandit.tallies
    for cid, clicks in (("nb-click", True), ("nb-ignore", False)):
        profile = engine.step(None, cid, "purchase", order(0, f"{cid}-o1", total=80.0)).profile
        profile, results = browse(engine, profile, cid, DAY, engine.settings.offer_after_views)
        (decision,) = offers_in(results)
        if clicks:
            clicked = {**click(2 * DAY, "offer_clicked"), "decision_id": decision.decision_id}
            profile = engine.step(profile, cid, "clickstream", clicked).profile
        rewards = sum(t.reward_sum for t in tallies.values())
        closed = engine.wake(profile, decision.decided_at + engine.settings.attribution_window_ms)
        (outcome,) = [o for o in closed.outcomes if o.decision_id == decision.decision_id]
        assert (outcome.clicked, outcome.redeemed) == (clicks, False)
        assert sum(t.reward_sum for t in tallies.values()) - rewards == (1.0 if clicks else 0.0)
    assert total_outcomes(engine) == 2


def test_a_held_out_offer_teaches_the_bandit_nothing() -> None:
    engine = Engine(policy_settings(holdout_share=1.0))
    profile = engine.step(None, "nb-held", "purchase", order(0, "o1", total=80.0)).profile
    profile, results = browse(engine, profile, "nb-held", DAY, engine.settings.offer_after_views)
    assert [d for r in results for d in r.decisions] == []
    (entry,) = [e for r in results for e in r.logged]
    assert (entry.decision.decision_type, entry.status) == ("next_best_offer", "control")
    assert entry.decision.payload["offer"]["context"]  # the context is there to learn from
    profile = engine.step(profile, "nb-held", "purchase",
                          order(3 * DAY, "o2", total=80.0)).profile
    closed = engine.wake(profile, entry.decision.decided_at + engine.settings.attribution_window_ms)
    (outcome,) = [o for o in closed.outcomes if o.decision_id == entry.decision.decision_id]
    assert (outcome.sent, outcome.converted) == (False, True)
    assert total_outcomes(engine) == 0


# --- loyalty rewards ----------------------------------------------------------------------

CATEGORY_REWARDS = json.dumps([
    {"offer_id": "double-points", "kind": "loyalty_reward", "title": "Double points",
     "fixed_cost": 3.0},
    {"offer_id": "dress-gift", "kind": "loyalty_reward", "title": "A scarf with your next dress",
     "fixed_cost": 5.0, "category": "dresses"},
    {"offer_id": "coffee-gift", "kind": "loyalty_reward", "title": "A bag of beans",
     "fixed_cost": 5.0, "category": "coffee"},
    {"offer_id": "discount-10", "kind": "discount", "title": "10% off", "percent": 10},
])


def loyal(engine: Engine, cid: str, categories: list[str]) -> list[list[Decision]]:
    """One order per category, ten days apart; the loyalty rewards each order earned."""
    profile, earned = None, []
    for k, category in enumerate(categories):
        event = order(k * 10 * DAY, f"{cid}-o{k}", total=60.0, category=category,
                      item_id=f"{category}-{k}")
        result = engine.step(profile, cid, "purchase", event)
        profile = result.profile
        earned.append([d for d in explained(result.decisions)
                       if d.decision_type == "loyalty_reward"])
    return earned


def test_every_fifth_order_earns_a_loyalty_reward() -> None:
    engine = Engine(policy_settings())
    earned = loyal(engine, "nb-loyal", ["coffee"] * 11)
    assert [len(e) for e in earned] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    (reward,) = earned[4]
    assert reward.payload["orders"] == 5
    assert reward.payload["offer"]["kind"] == "loyalty_reward"
    assert reward.reasons[0].code == "loyalty_milestone"
    # The default catalogue has no category rewards: a general one, said so.
    assert all(o.category is None for o in DEFAULT_OFFERS if o.kind == "loyalty_reward")
    assert reward.payload["offer"]["category"] is None
    assert reward.reasons[1].text == "No category reward fits better."


@pytest.mark.parametrize(
    ("categories", "first", "second"),
    [(["coffee"] * 4 + ["dresses"], "coffee-gift", "dress-gift"),
     (["dresses"] * 4 + ["coffee"], "dress-gift", "coffee-gift")],
    ids=["mostly-coffee", "mostly-dresses"],
)
def test_loyalty_rewards_are_ranked_by_category_affinity(
    categories: list[str], first: str, second: str
) -> None:
    # Category rewards come from a configured catalogue (the default one has none).
    engine = Engine(policy_settings(offers=CATEGORY_REWARDS))
    (reward,) = loyal(engine, "nb-rank", categories)[4]
    assert reward.payload["offer"]["offer_id"] == first
    ranking = reward.payload["ranking"]
    assert [r["offer_id"] for r in ranking[:3]] == [first, second, "double-points"]
    assert ranking[0]["affinity"] > ranking[1]["affinity"] > ranking[2]["affinity"] == 0.0
    assert "discount-10" not in {r["offer_id"] for r in ranking}  # rewards only
    assert reward.scores["affinity"] == ranking[0]["affinity"]
    category = reward.payload["offer"]["category"]
    assert reward.reasons[1].code == "category_affinity" and category in reward.reasons[1].text


def test_loyalty_reward_for_a_category_never_bought_is_not_offered() -> None:
    catalogue = json.dumps([
        {"offer_id": "coffee-gift", "kind": "loyalty_reward", "title": "A bag of beans",
         "fixed_cost": 5.0, "category": "coffee"},
        {"offer_id": "double-points", "kind": "loyalty_reward", "title": "Double points",
         "fixed_cost": 3.0},
    ])
    engine = Engine(policy_settings(offers=catalogue))
    (reward,) = loyal(engine, "nb-shoes", ["shoes"] * 5)[4]
    assert reward.payload["offer"]["offer_id"] == "double-points"


# --- review follow-ups --------------------------------------------------------------------

POSITIVE = "Thank you so much, that was great and really helpful!"
NEGATIVE = "This is terrible, awful service, I am very angry."


def conversation(engine: Engine, cid: str, texts: list[str], *,
                 reviewed: bool = False) -> StepResult:
    """An order, optionally a review, a support conversation, then its resolution."""
    profile = engine.step(None, cid, "purchase", order(0, f"{cid}-o1")).profile
    if reviewed:
        profile = engine.step(profile, cid, "review",
                              review(DAY // 2, "dress-1", 4, "Nice dress")).profile
    for i, text in enumerate(texts):
        profile = engine.step(profile, cid, "support", support(
            DAY + i * MINUTE, f"{cid}-c1", text, order_id=f"{cid}-o1")).profile
    return engine.step(profile, cid, "support", support(
        DAY + HOUR, f"{cid}-c1", None, kind="resolved", author="bot"))


def test_positive_resolved_conversation_earns_a_review_request() -> None:
    engine = Engine(policy_settings())
    result = conversation(engine, "nb-happy", ["Where is my order?", POSITIVE])
    assert result.profile.sentiment is not None
    assert result.profile.sentiment >= engine.settings.review_request_min_sentiment
    (request,) = [d for d in explained(result.decisions) if d.decision_type == "review_request"]
    assert request.channel == "email"
    assert request.payload["conversation_id"] == "nb-happy-c1"
    assert request.payload["order_id"] == "nb-happy-o1"
    assert [r.code for r in request.reasons] == ["positive_resolution", "never_reviewed"]


def test_negative_conversation_earns_no_review_request() -> None:
    engine = Engine(policy_settings())
    result = conversation(engine, "nb-angry", ["Where is my order?", NEGATIVE])
    assert result.profile.sentiment is not None and result.profile.sentiment < 0
    # Not even a candidate (the complaint guardrail would also stop one).
    assert "review_request" not in {e.decision.decision_type for e in result.logged}


def test_customer_who_already_reviewed_gets_no_review_request() -> None:
    engine = Engine(policy_settings())
    result = conversation(engine, "nb-reviewer", [POSITIVE], reviewed=True)
    assert result.profile.sentiment is not None and result.profile.sentiment > 0.2
    assert "review_request" not in {e.decision.decision_type for e in result.logged}


@pytest.mark.parametrize(("rating", "thanked"), [(5, True), (4, True), (3, True), (1, False)])
def test_reviews_of_three_stars_or_more_are_thanked(rating: int, thanked: bool) -> None:
    engine = Engine(policy_settings())
    profile = engine.step(None, "nb-rev", "purchase", order(0, "o1")).profile
    event = review(DAY, "dress-1", rating, "About the dress.", review_id="rv-1")
    result = engine.step(profile, "nb-rev", "review", event)
    thanks = [d for d in explained(result.decisions) if d.decision_type == "thank_you"]
    if not thanked:
        assert thanks == []
        assert "thank_you" not in {e.decision.decision_type for e in result.logged}
        return
    (thank,) = thanks
    assert (thank.channel, thank.payload["review_id"], thank.payload["rating"]) == (
        "email", "rv-1", rating)
    assert f"{rating}-star" in thank.reasons[0].text


# --- explanations -------------------------------------------------------------------------


def test_every_follow_up_decision_type_explains_itself() -> None:
    made: dict[str, Decision] = {}

    def keep(decisions: list[Decision]) -> None:
        for d in decisions:
            key = f"{d.decision_type}:{d.action}:{d.payload.get('sequence_step', '')}"
            made.setdefault(key, d)

    for tier in ("top", "middle", "low"):
        engine = tiered(tier)
        profile, due = lapsing(engine, f"nb-x-{tier}", discounted=3)
        keep(engine.wake(profile, due).decisions)
        keep(engine.wake(profile, due + 7 * DAY).decisions)
    engine = Engine(policy_settings())
    profile = engine.step(None, "nb-x-offer", "purchase", order(0, "o1", total=80.0)).profile
    _, results = browse(engine, profile, "nb-x-offer", DAY, engine.settings.offer_after_views)
    keep([d for r in results for d in r.decisions])
    for earned in loyal(Engine(policy_settings(offers=CATEGORY_REWARDS)), "nb-x-loyal",
                        ["coffee"] * 5):
        keep(earned)
    result = conversation(engine, "nb-x-review", [POSITIVE])
    keep(result.decisions)
    keep(engine.step(result.profile, "nb-x-review", "review",
                     review(2 * DAY, "dress-1", 5, "Lovely.")).decisions)

    assert set(made) >= {
        "winback:create_task:", "winback:send_message:1", "winback:send_message:2",
        "next_best_offer:send_message:", "loyalty_reward:send_message:",
        "review_request:send_message:", "thank_you:send_message:",
    }
    for key, decision in made.items():
        assert decision.reasons, key
        assert all(r.text.strip() for r in decision.reasons), key
        assert decision.scores, key
