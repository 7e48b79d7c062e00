from __future__ import annotations

import copy
import itertools
import math
import pickle
import random
from array import array

import pytest

from nextbest.models.churn import (
    FEATURES,
    ChurnInputs,
    ChurnModel,
    DelayedLabels,
    LapseClassifier,
    OnlineGLM,
    Snapshot,
    extract,
)
from nextbest.models.churn.features import DAY_MS, Standardiser, usual_gap_days
from nextbest.models.churn.value import COUNT_CLIP, Forecast, ValueModel, segment

DAY = DAY_MS


def regular(orders: int, gap_days: float, last_day: float = 100.0) -> ChurnInputs:
    """A customer who bought ``orders`` times every ``gap_days``, the last on ``last_day``."""
    times = [int((last_day - i * gap_days) * DAY) for i in reversed(range(orders))]
    return ChurnInputs(
        orders=orders,
        revenue=30.0 * orders,
        first_order_at=times[0],
        last_order_at=times[-1],
        gap_count=orders - 1,
        gap_mean_ms=gap_days * DAY if orders > 1 else 0.0,
        order_times=tuple(times),
    )


def snap(day: float) -> Snapshot:
    return Snapshot(taken_at=int(day * DAY), features=array("d"), risk=0.5, expected=1.0)


def simulate(model: ChurnModel, customers: int = 150, days: int = 300, seed: int = 1) -> None:
    """Regular buyers (gap 7-30 days); half of them stop for good at a random day."""
    rng = random.Random(seed)
    people = []
    for i in range(customers):
        gap = rng.choice([7, 14, 30])
        stop = rng.uniform(60, days) if i % 2 else float("inf")
        people.append({"id": f"c{i}", "gap": gap, "stop": stop, "next": rng.uniform(0, gap),
                       "times": []})
    for day in range(days):
        now = day * DAY
        model.advance(now)
        for p in people:
            if p["next"] <= day < p["stop"]:
                p["times"].append(now)
                p["next"] = day + p["gap"] * rng.uniform(0.7, 1.3)
                model.purchase(p["id"], now, 30.0)
            if day % 7 == 0 and p["times"]:
                model.observe(p["id"], inputs_of(p["times"], now), now)


def inputs_of(times: list[int], now: int) -> ChurnInputs:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return ChurnInputs(
        orders=len(times), revenue=30.0 * len(times), first_order_at=times[0],
        last_order_at=times[-1], gap_count=len(gaps),
        gap_mean_ms=sum(gaps) / len(gaps) if gaps else 0.0,
        order_times=tuple(t for t in times if t > now - 120 * DAY),
    )


@pytest.fixture(scope="module")
def trained() -> ChurnModel:
    model = ChurnModel(horizon_days=60, warmup=50)
    simulate(model)
    return model


def test_features_are_relative_to_the_customers_own_gap() -> None:
    weekly, monthly = regular(6, 7), regular(6, 60)
    now = int(140 * DAY)  # 40 days after both customers' last order
    assert extract(weekly, now, 30.0)["overdue"] > 1.0  # far past a 7-day rhythm
    assert extract(monthly, now, 30.0)["overdue"] < 0.0  # still inside a 60-day rhythm
    inside = extract(weekly, int(103 * DAY), 30.0)
    assert inside["overdue"] < extract(weekly, now, 30.0)["overdue"]
    assert set(inside) == set(FEATURES)


def test_frequency_compression_compares_the_last_60_days_with_the_60_before() -> None:
    times = (10, 20, 30, 40, 50, 90)  # five orders 60-120 days before day 125, one in the last 60
    inputs = ChurnInputs(orders=6, revenue=60.0, first_order_at=int(10 * DAY),
                         last_order_at=int(90 * DAY), gap_count=5, gap_mean_ms=16 * DAY,
                         order_times=tuple(int(t * DAY) for t in times))
    x = extract(inputs, int(125 * DAY), 30.0)
    assert x["compression"] == pytest.approx((1 - 5) / 6)
    assert x["frequency_drop"] == 1.0


def test_engagement_support_and_sentiment_features() -> None:
    now = int(200 * DAY)
    sends = tuple(int(d * DAY) for d in range(111, 200, 5))
    opened_early = tuple(t for t in sends if t <= now - 45 * DAY)
    inputs = ChurnInputs(orders=1, revenue=10.0, first_order_at=0, last_order_at=0,
                         email_sends=sends, email_opens=opened_early,
                         support_contacts=(int(190 * DAY), int(195 * DAY), int(198 * DAY)),
                         sentiment=-0.8)
    x = extract(inputs, now, 30.0)
    assert x["email_open_rate"] == 0.0 and x["email_open_trend"] == -1.0
    assert x["support_recent"] == pytest.approx(math.log1p(3)) and x["support_spike"] == 3.0
    assert x["sentiment"] == -0.8 and x["sentiment_known"] == 1.0
    assert extract(ChurnInputs(), now, 30.0)["sentiment_known"] == 0.0
    unsent = extract(ChurnInputs(email_opens=opened_early), now, 30.0)  # sends not known
    assert unsent["email_open_trend"] == -1.0 and unsent["email_open_rate"] == 0.0


def test_a_customer_past_their_usual_gap_scores_riskier(trained: ChurnModel) -> None:
    customer = regular(8, 14)
    inside = trained.score(customer, int(105 * DAY))
    past = trained.score(customer, int(160 * DAY))
    assert past.risk > inside.risk + 0.2
    assert past.expected_orders < inside.expected_orders
    fresh = ChurnModel()  # the prior agrees before anything is learnt
    assert fresh.score(customer, int(160 * DAY)).risk > fresh.score(customer, int(105 * DAY)).risk


def test_snapshot_is_retained_on_a_purchase_within_the_horizon() -> None:
    labels = DelayedLabels(10 * DAY)
    assert labels.add("a", snap(0))
    (outcome,) = labels.purchase("a", int(4 * DAY), 25.0)
    assert not outcome.lapsed and not outcome.final
    assert labels.purchase("a", int(8 * DAY), 5.0) == []  # counted, not labelled twice
    assert labels.advance(int(9 * DAY)) == []
    (final,) = labels.advance(int(10 * DAY))
    assert final.final and not final.lapsed
    assert (final.snapshot.purchases, final.snapshot.early_purchases) == (2, 1)
    assert final.snapshot.revenue == 30.0
    assert len(labels) == 0


def test_snapshot_lapses_once_the_horizon_passes_without_a_purchase() -> None:
    labels = DelayedLabels(10 * DAY)
    labels.add("b", snap(0))
    assert labels.purchase("b", 0) == []  # a purchase at the snapshot's own time is not after it
    assert labels.purchase("b", int(11 * DAY)) == []  # too late to count
    (outcome,) = labels.advance(int(12 * DAY))
    assert outcome.lapsed and outcome.final and outcome.customer_id == "b"


def test_pending_memory_is_bounded() -> None:
    labels = DelayedLabels(10 * DAY, per_customer=2, max_pending=3)
    assert labels.add("a", snap(0))
    assert not labels.add("a", snap(1))  # closer than horizon / per_customer
    assert labels.add("a", snap(5))
    assert not labels.add("a", snap(11))  # two pending already
    assert labels.add("b", snap(0))
    assert not labels.add("c", snap(0))  # global cap
    assert len(labels) == 3 and labels.skipped == 3
    labels.advance(int(10 * DAY))  # a@0 and b@0 expire
    assert len(labels) == 1 and labels.add("c", snap(10))
    assert not labels.add("d", snap(-1))  # its horizon already passed the watermark


def test_score_before_any_learning_is_a_prior() -> None:
    model = ChurnModel()
    for inputs in (ChurnInputs(), regular(1, 0), regular(5, 20)):
        score = model.score(inputs, int(120 * DAY))
        assert 0.0 < score.risk < 1.0
        assert score.expected_orders >= 0.0 and score.expected_value >= 0.0
    assert model.advance(int(400 * DAY)) == 0 and model.purchase("x", 0) == 0


def test_next_order_follows_the_rhythm_then_the_forecast(trained: ChurnModel) -> None:
    customer = regular(8, 14)
    gap = usual_gap_days(customer, trained.prior_gap_days)
    assert 14 < gap < 30
    assert trained.score(customer, int(105 * DAY)).next_order_at == int(100 * DAY + gap * DAY)
    late = trained.score(customer, int(160 * DAY))
    assert late.next_order_at is None or late.next_order_at > 160 * DAY


def test_forecast_extrapolates_half_on_half() -> None:
    f = Forecast(first_half=1.0, ratio=0.5, half_days=30.0)
    assert f.orders(60.0) == pytest.approx(f.in_horizon) == pytest.approx(1.5)
    assert f.orders(90.0) == pytest.approx(1.75)
    assert f.days_to_next() == pytest.approx(30.0)
    assert Forecast(first_half=0.2, ratio=0.5, half_days=30.0).days_to_next() is None


def test_heavy_buyers_decay_by_their_own_segment() -> None:
    value = ValueModel(90.0)
    for _ in range(400):  # one-time buyers fade: 1 purchase early, none late
        value.learn({}, purchases=1, early=1, orders=1)
    for _ in range(400):  # regulars keep buying: as many late as early
        value.learn({}, purchases=4, early=2, orders=9)
    assert value.segment_ratio(1) < value.half_ratio < value.segment_ratio(9)
    assert value.segment_ratio(9) == pytest.approx(1.0, abs=0.05)
    assert value.forecast({}, 1.0, orders=9).orders(270.0) > value.forecast(
        {}, 1.0, orders=1).orders(270.0)


def test_a_checkpoint_from_before_the_segments_restores_and_learns() -> None:
    value = ValueModel(90.0)
    value.learn({}, purchases=2, early=1)
    old = pickle.loads(pickle.dumps(value))
    del old.__dict__["segment_early"], old.__dict__["segment_late"]
    old.model.clip = 5.0
    restored = pickle.loads(pickle.dumps(old))
    restored.learn({}, purchases=3, early=2, orders=4)
    assert restored.segment_early[segment(4)] == 2.0
    assert restored.model.clip == COUNT_CLIP


def test_pickle_round_trip_gives_identical_scores(trained: ChurnModel) -> None:
    model = copy.deepcopy(trained)
    clone = pickle.loads(pickle.dumps(model))
    probes = [(regular(8, 14), 105), (regular(3, 30), 200), (ChurnInputs(), 10)]
    for inputs, day in probes:
        assert clone.score(inputs, int(day * DAY)) == model.score(inputs, int(day * DAY))
    for m in (model, clone):  # and they keep learning identically
        m.advance(int(400 * DAY))
    probe = regular(8, 14)
    assert clone.score(probe, int(105 * DAY)) == model.score(probe, int(105 * DAY))


def test_inputs_are_not_mutated() -> None:
    model = ChurnModel()
    inputs = ChurnInputs(orders=2, revenue=20.0, first_order_at=0, last_order_at=int(9 * DAY),
                         gap_count=1, gap_mean_ms=9 * DAY, order_times=[0, int(9 * DAY)],
                         support_contacts=[int(5 * DAY)], sentiment=0.2)
    before = copy.deepcopy(inputs)
    model.observe("a", inputs, int(20 * DAY))
    model.score(inputs, int(30 * DAY))
    assert inputs == before


def test_forget_drops_pending_snapshots_unlearnt() -> None:
    model = ChurnModel(horizon_days=30)
    model.observe("a", regular(3, 10), int(101 * DAY))
    model.observe("b", regular(3, 10), int(101 * DAY))
    assert len(model.labels) == 2
    assert model.forget("a") == 1 and model.labels.pending("a") == []
    assert model.purchase("a", int(105 * DAY)) == 0
    assert model.advance(int(200 * DAY)) == 1  # only b's snapshot is learnt
    assert model.classifier.learnt == 1 and len(model.labels) == 0


def test_retained_labels_are_learnt_when_the_horizon_ends() -> None:
    model = ChurnModel(horizon_days=30)
    model.observe("a", regular(3, 10), int(101 * DAY))
    assert model.purchase("a", int(105 * DAY), 10.0) == 1
    assert model.classifier.learnt == 0
    assert model.advance(int(131 * DAY)) == 1
    assert model.classifier.learnt == 1 and model.value.learnt == 1


def test_probabilities_are_calibrated_on_synthetic_data() -> None:
    rng = random.Random(3)
    scaler, clf = Standardiser(), LapseClassifier(warmup=10)

    def draw() -> tuple[dict[str, float], float]:
        x = {"a": rng.gauss(2.0, 3.0), "b": rng.gauss(0.0, 1.0)}
        return x, 1.0 / (1.0 + math.exp(-(0.5 * x["a"] - 1.0 * x["b"] - 1.0)))

    for _ in range(20_000):
        x, p = draw()
        scaler.learn(x)
        clf.learn(scaler.transform(x), rng.random() < p)
    for _ in range(5_000):
        x, p = draw()
        clf.calibration.update(clf.predict(scaler.transform(x), 0.5), rng.random() < p)
    ideal = 0.0
    rng2 = random.Random(4)
    for _ in range(5_000):
        _, p = draw()
        ideal += ((rng2.random() < p) - p) ** 2 / 5_000
    assert clf.calibration.ece < 0.03
    assert clf.calibration.brier < ideal + 0.01
    for predicted, observed, count in clf.calibration.reliability():
        if count > 300:
            assert abs(predicted - observed) < 0.06


def test_poisson_glm_learns_expected_counts() -> None:
    rng = random.Random(5)
    glm = OnlineGLM("log", learning_rate=0.01)

    def poisson(mean: float) -> int:
        k, p, limit = 0, 1.0, math.exp(-mean)
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1

    for _ in range(20_000):
        z = rng.gauss(0.0, 1.0)
        glm.learn({"z": z}, float(poisson(math.exp(0.3 + 0.7 * z))))
    for z in (-1.0, 0.0, 1.0):
        assert glm.predict({"z": z}) == pytest.approx(math.exp(0.3 + 0.7 * z), rel=0.1)


def test_replayed_stream_learns_lapses_and_reports_calibration(trained: ChurnModel) -> None:
    stats = trained.stats()
    assert stats["labels_learnt"] > 500
    calibration = trained.classifier.calibration.summary()
    assert 0.0 < calibration["brier"] < 0.25
