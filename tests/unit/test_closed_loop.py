"""The closed loop: the engine's decisions delivered to the synthetic shop, measured uplift
checked against the simulator's hidden truth.

One simulation (2,000 customers, 90 days, about 15 s) is shared by the module; the A/B-arm test
runs its own small one.
"""

from __future__ import annotations

import json
import math

import pytest

from nextbest.experiments.assign import HOLDOUT, arm_for
from nextbest.experiments.closed_loop import ClosedLoop, LoopReport
from nextbest.experiments.uplift import ALL
from nextbest.guardrails import is_marketing
from nextbest.settings import EngineSettings

SEED, CUSTOMERS, DAYS = 7, 2000, 90
MIN_CONTROL = 30
"""Control exposures a decision type needs before its interval is worth checking."""


@pytest.fixture(scope="module")
def run() -> tuple[ClosedLoop, LoopReport]:
    closed = ClosedLoop(seed=SEED, customers=CUSTOMERS, days=DAYS)
    report = closed.run()
    print("\n" + report.render())
    return closed, report


@pytest.fixture(scope="module")
def loop(run: tuple[ClosedLoop, LoopReport]) -> ClosedLoop:
    return run[0]


@pytest.fixture(scope="module")
def report(run: tuple[ClosedLoop, LoopReport]) -> LoopReport:
    return run[1]


def test_measured_lift_interval_contains_the_counterfactual_lift(report: LoopReport) -> None:
    overall = report.uplift[ALL]
    # Informative: the interval is narrow enough to tell a real lift from none.
    assert overall.conversion_lift.high - overall.conversion_lift.low < 0.15
    assert overall.conversion_lift.low > 0
    truth = report.truth[ALL]
    assert truth.exposures == overall.treated.exposures
    assert overall.conversion_lift.contains(truth.conversion_lift), (overall, truth)
    winback = report.uplift["winback"]
    if winback.control.exposures >= MIN_CONTROL:
        assert winback.conversion_lift.contains(report.truth["winback"].conversion_lift)


def test_true_lift_of_winbacks_and_offers_is_positive(report: LoopReport) -> None:
    for decision_type in ("winback", "next_best_offer", "loyalty_reward"):
        truth = report.truth[decision_type]
        assert truth.exposures >= 100, decision_type
        assert truth.expected_response > 0, decision_type
        assert truth.responded > 0, decision_type
        assert truth.conversion_lift > 0, decision_type
        assert truth.revenue_lift > 0, decision_type
    # The response model gives review requests no orders of their own: any lift they show is
    # other decisions' responses landing in their window.
    assert report.truth["review_request"].expected_response == 0
    assert report.truth["review_request"].responded == 0


WINBACK_PRECISION_LIFT = 1.5
"""How many times random targeting's lapsing share the win-backs must reach (lower bound)."""


def test_winback_precision_beats_random_targeting(report: LoopReport) -> None:
    # Win-backs go to customers silent beyond twice their usual gap (shrunk towards the
    # population's) who have not been seen at all for weeks, gated by the churn model once it
    # warms up. Measured at 90 days (d8741dd): seed 7 2.40x of 298, seed 11 2.31x of 343 (the
    # lower confidence bound 2.12x and 2.08x).
    precision = report.precision
    assert precision.decisions >= 200
    assert precision.lapsing_low() >= WINBACK_PRECISION_LIFT * precision.base_lapsing, precision


OFFER_REGRET_SHARE = 0.8
"""The share of a uniform choice's offer regret the bandit may lose at most on this seed."""


def test_offer_bandit_loses_well_under_what_a_uniform_choice_loses(report: LoopReport) -> None:
    # Regret: the response probability lost against the best affordable offer, by the
    # simulator's hidden truth (which reads price sensitivity, the customer's devices, app use,
    # country and the time of day). Single seeds spread widely - the bandit's first picks
    # decide much of its path - so this guards against a bandit that stops learning; the
    # issue's 0.7x is a mean over seeds (BENCHMARKS.md, "Offer regret over seeds": at 90 days
    # seeds 1-7 and 11 ran 0.61x-0.80x, mean 0.71x; this seed 0.70x of 364 offers).
    regret = report.regret["choice_set"]["next_best_offer"]
    assert regret.decisions >= 200
    assert regret.chosen <= OFFER_REGRET_SHARE * regret.uniform, regret


def test_emails_that_wait_for_their_customers_hour_are_opened_more(report: LoopReport) -> None:
    # The simulated customers read email at an hour of their own and open an email less the
    # longer it waited in their inbox; marketing emails without an offer wait for the hour the
    # engine learnt from the customer's opens. Measured (seed 7, 90 days): a 26.4% chance of an
    # open as sent, 23.1% had the same emails gone out when ready, 33.1% at each customer's
    # true hour; 1,225 of 2,741 emails waited.
    timing = report.send_time
    assert timing is not None and timing.waited >= 500
    assert timing.at_once_chance < timing.open_chance < timing.best_chance
    assert timing.open_chance - timing.at_once_chance >= 0.2 * (
        timing.best_chance - timing.at_once_chance), timing


def test_every_sent_decision_is_delivered_and_answered_with_its_id(loop: ClosedLoop) -> None:
    deliveries = {d.decision_id: d for d in loop.shop.deliveries()}
    deliverable = {i: s for i, s in loop.sent.items() if s.shop_customer is not None}
    assert set(deliveries) == set(deliverable)
    assert all(deliveries[i].customer_id == s.shop_customer for i, s in deliverable.items())
    # What could not be delivered went to profiles no shop customer is known behind.
    assert len(loop.sent) - len(deliverable) <= 0.01 * len(loop.sent)
    for decision_id in set(loop.sent) - set(deliverable):
        profile = loop.profiles.get(loop.sent[decision_id].decision.customer_id)
        assert profile is None or loop.shop_customer(profile) is None
    answered = [d for d in deliveries.values()
                if d.responded and d.response_at is not None and d.response_at < loop.clock]
    assert len(answered) >= 200
    for delivery in answered:
        # The response order came back through the stream carrying the decision id.
        assert loop.redeemed.get(delivery.decision_id) == delivery.customer_id, delivery
    assert set(loop.redeemed) <= set(deliveries)


def test_holdout_customers_get_no_marketing(loop: ClosedLoop, report: LoopReport) -> None:
    settings = loop.settings
    marketing = [s.decision for s in loop.sent.values() if is_marketing(s.decision.decision_type)]
    assert len(marketing) >= 1000
    for decision in marketing:
        assert decision.experiment_arm == "treatment"
        assert arm_for(decision.customer_id, decision.decision_type, settings) != HOLDOUT
    held_out = [e for e in loop.exposed.values()
                if arm_for(e.customer_id, e.decision_type, settings) == HOLDOUT]
    assert held_out, "the holdout got no decisions to hold back"
    controls = sum(counts.get("control", 0) for decision_type, counts in report.verdicts.items()
                   if is_marketing(decision_type))
    assert controls == len(held_out)
    assert report.uplift[ALL].control.exposures > 0


def test_proactive_apologies_avoid_complaints_against_their_control_arm_and_the_truth(
        report: LoopReport) -> None:
    delays = report.delays
    assert delays is not None
    sent, control, none = (delays.measured[g] for g in ("sent", "control", "none"))
    assert sent.orders >= 50 and control.orders >= 10 and none.orders >= 10
    assert delays.delayed == sum(r.orders for r in delays.measured.values())
    # By the simulator's truth, the apologies spared complaints; held-back ones changed nothing.
    assert delays.truly_avoided > 0.25 * delays.would_have["sent"].complained
    assert delays.truth["control"].complained == delays.would_have["control"].complained
    assert delays.reached >= 0.9 * sent.orders
    # Measured against the control arm, the interval holds the true number avoided.
    _, low, high = delays.avoided
    assert low > 0 and low <= delays.truly_avoided <= high, delays.to_dict()


def test_report_is_json_and_renders(report: LoopReport) -> None:
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["events"] == report.events > 50_000
    assert set(data["truth_in_interval"]) == set(report.truth)
    assert data["verdicts"]["winback"]["sent"] > 0
    assert data["delays"]["apologies"]["sent"] > 0
    text = report.render()
    assert "truth" in text and "in CI" in text and "complaints avoided by" in text
    for decision_type in report.uplift:
        assert decision_type in text
    regret = report.regret["choice_set"]["next_best_offer"]
    assert regret.decisions > 0 and not math.isnan(regret.ratio)


def test_control_arm_is_logged_not_sent() -> None:
    settings = EngineSettings(holdout_share=0.0,
                              experiment_arms={"cart_reminder": {"control": 0.5,
                                                                 "treatment": 0.5}})
    small = ClosedLoop(seed=3, customers=300, days=10, settings=settings)
    report = small.run()
    reminders = report.verdicts["cart_reminder"]
    assert reminders.get("control", 0) > 10 and reminders.get("sent", 0) > 10
    delivered = {d.decision_id for d in small.shop.deliveries()}
    for decision_id, exposure in small.exposed.items():
        arm = arm_for(exposure.customer_id, exposure.decision_type, settings)
        reachable = exposure.shop_customer is not None
        assert (decision_id in delivered) == (arm == "treatment" and reachable), exposure
    assert report.uplift["cart_reminder"].control.exposures > 0
