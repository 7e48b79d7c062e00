"""One contract every online model keeps: it answers before it has learnt anything, survives a
pickle round trip unchanged (that is how checkpoints work), never mutates its inputs, and stays
within bounded memory however long the stream."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from nextbest.models.churn import ChurnInputs, ChurnModel
from nextbest.models.offers import DEFAULT_OFFERS, NextBestOffer, offer_context
from nextbest.models.recommend import Recommender
from nextbest.models.sentiment import SentimentModel, TopicSpikes
from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from nextbest.profile.update import apply_event
from tests.events import DAY, order, review, support

WORDS = ("great", "awful", "late", "broken", "love", "cheap", "refund", "staff", "box", "taste")


@dataclass(frozen=True)
class Case:
    """How to drive one model: make it, feed it the i-th example, ask it something."""

    make: Callable[[], Any]
    learn: Callable[[Any, int], None]
    predict: Callable[[Any], Any]
    inputs: Callable[[int], Any]
    """The i-th example as a plain structure (checked for mutation)."""


def _text(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(6))


def _churn_inputs(i: int) -> ChurnInputs:
    start = i % 50 * DAY
    times = tuple(start + k * 9 * DAY for k in range(4))
    return ChurnInputs(orders=4, revenue=120.0, first_order_at=times[0], last_order_at=times[-1],
                       gap_count=3, gap_mean_ms=9 * DAY, order_times=times)


def _learn_churn(model: ChurnModel, i: int) -> None:
    inputs = _churn_inputs(i)
    now = (inputs.last_order_at or 0) + DAY
    model.observe(f"c{i % 300}", inputs, now)
    if i % 3:
        model.purchase(f"c{i % 300}", now + 5 * DAY, 30.0)
    model.advance(now)


def _suite_events(i: int) -> tuple[str, dict[str, Any]]:
    who = {"email": f"c{i % 200}@example.com"}
    kind = i % 3
    if kind == 0:
        return "purchase", order(i * DAY // 10, f"o{i}", item_id=f"i{i % 97}",
                                 category=f"k{i % 7}", customer=who, event_id=f"e{i}")
    if kind == 1:
        return "review", review(i * DAY // 10, f"i{i % 97}", 1 + i % 5, _text(i), customer=who,
                                event_id=f"e{i}")
    return "support", support(i * DAY // 10, f"conv{i}", _text(i), customer=who,
                              event_id=f"e{i}")


def _learn_suite(suite: ModelSuite, i: int) -> None:
    family, event = _suite_events(i)
    profile = CustomerProfile(f"nb-{i % 200}")
    apply_event(profile, family, event)
    suite.observe(profile, family, event)


def _predict_suite(suite: ModelSuite) -> Any:
    profile = CustomerProfile("nb-x", orders=2, revenue=50.0, first_order_at=0,
                              last_order_at=10 * DAY, gap_count=1, gap_mean_ms=10 * DAY,
                              items_bought=["i1", "i2"])
    churn = suite.rescore(profile, 20 * DAY)
    recs = [(r.item_id, round(r.score, 9)) for r in suite.recommend(profile, 5)]
    return (churn and round(churn.risk, 9), recs, suite.sentiment.score("late and broken"))


def _offer_context(i: int) -> dict[str, float]:
    rng = random.Random(i)
    profile = CustomerProfile(f"nb-{i % 100}", orders=1 + i % 9, revenue=rng.uniform(20, 900),
                              discounted_orders=i % 4, last_order_at=0, gap_count=i % 9,
                              gap_mean_ms=(5 + i % 30) * DAY, scores={"churn_risk": rng.random()})
    return offer_context(profile, (i % 60) * DAY)


def _learn_offers(model: NextBestOffer, i: int) -> None:
    context = _offer_context(i)
    offer = DEFAULT_OFFERS[i % len(DEFAULT_OFFERS)]
    converted = (offer.kind == "discount") == (context["discount_share"] > 0.4)
    model.learn(context, offer.offer_id, float(converted))


def _predict_offers(model: NextBestOffer) -> Any:
    profile = CustomerProfile("nb-x", orders=3, revenue=90.0, discounted_orders=2,
                              last_order_at=0, gap_count=2, gap_mean_ms=10 * DAY)
    return model.pick(profile, 20 * DAY, value_cap=20.0, budget_left=50.0)


CASES: dict[str, Case] = {
    "recommender": Case(
        make=lambda: Recommender(),
        learn=lambda m, i: m.learn(f"c{i % 150}", f"i{(i * 7) % 211}", time_ms=i * 60_000,
                                   history=[f"i{(i * 7 - 7) % 211}"]),
        predict=lambda m: [(r.item_id, round(r.score, 9), r.reason)
                           for r in m.recommend("c1", 5, history=["i7", "i14"])],
        inputs=lambda i: (["i7", "i14"], {"i7": 1}),
    ),
    "churn": Case(
        make=lambda: ChurnModel(),
        learn=_learn_churn,
        predict=lambda m: m.score(_churn_inputs(3), 60 * DAY),
        inputs=_churn_inputs,
    ),
    "sentiment": Case(
        make=lambda: SentimentModel(),
        learn=lambda m, i: m.learn(_text(i), 1 + i % 5),
        predict=lambda m: m.score("the parcel was late and the box broken"),
        inputs=_text,
    ),
    "topic_spikes": Case(
        make=lambda: TopicSpikes(),
        learn=lambda m, i: m.observe(("shipping",) if i % 2 else ("pricing",), i % 3 == 0,
                                     i * 60_000),
        predict=lambda m: (m.baseline_rate("shipping"), m.baseline_rate("pricing")),
        inputs=lambda i: ("shipping",),
    ),
    "offers": Case(
        make=lambda: NextBestOffer(seed=1),
        learn=_learn_offers,
        predict=_predict_offers,
        inputs=_offer_context,
    ),
    "suite": Case(
        make=lambda: ModelSuite(),
        learn=_learn_suite,
        predict=_predict_suite,
        inputs=lambda i: _suite_events(i)[1],
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def test_predicts_before_learning(case: Case) -> None:
    assert case.predict(case.make()) is not None


def test_pickle_round_trip_keeps_every_answer(case: Case) -> None:
    model = case.make()
    for i in range(300):
        case.learn(model, i)
    restored = pickle.loads(pickle.dumps(model))
    assert case.predict(restored) == case.predict(model)
    # ... and both keep learning the same way.
    for i in range(300, 330):
        case.learn(model, i)
        case.learn(restored, i)
    assert case.predict(restored) == case.predict(model)


def test_inputs_are_not_mutated(case: Case) -> None:
    model = case.make()
    for i in range(50):
        example = case.inputs(i)
        before = copy.deepcopy(example)
        case.learn(model, i)
        assert case.inputs(i) == before


def test_memory_is_bounded(case: Case) -> None:
    model = case.make()
    for i in range(1_000):
        case.learn(model, i)
    early = len(pickle.dumps(model))
    for i in range(1_000, 4_000):
        case.learn(model, i)
    late = len(pickle.dumps(model))
    # The examples cycle over bounded customer/item sets, so state must not keep growing with
    # the stream's length (a model that remembered every event would triple here).
    assert late < early * 1.6, (early, late)
