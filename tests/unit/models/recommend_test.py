"""The online recommender: each part, the blend, the filters and the guarantees."""

from __future__ import annotations

import copy
import math
import pickle
import random
from typing import Any

import pytest

from nextbest.models.recommend import (
    Catalog,
    CoOccurrence,
    ImplicitMF,
    Popularity,
    Recommendation,
    Recommender,
    RecommendSettings,
    price_band,
)
from nextbest.models.recommend.decay import DAY_MS

QUIET = RecommendSettings(exploration=0.0)


def shop(settings: RecommendSettings = QUIET) -> Recommender:
    """Campers buy tent then stove; readers buy novels; one bestseller everyone buys."""
    rec = Recommender(settings)
    rec.upsert_item("tent", "outdoor", tags=["camping"], price=120.0)
    rec.upsert_item("stove", "outdoor", tags=["camping", "cooking"], price=40.0)
    rec.upsert_item("boots", "outdoor", tags=["hiking"], price=90.0)
    rec.upsert_item("novel", "books", tags=["fiction"], price=12.0)
    rec.upsert_item("poems", "books", tags=["poetry"], price=9.0)
    rec.upsert_item("atlas", "books", tags=["travel"], price=30.0)
    rec.upsert_item("coffee", "grocery", tags=["drinks"], price=8.0)
    t = 0
    for n in range(6):
        history: list[str] = []
        for item in ("tent", "stove", "coffee"):
            rec.learn(f"camper{n}", item, time_ms=t, history=history)
            history.append(item)
            t += 1_000
    for n in range(6):
        history = []
        for item in ("novel", "poems", "coffee"):
            rec.learn(f"reader{n}", item, time_ms=t, history=history)
            history.append(item)
            t += 1_000
    return rec


def ids(recs: list[Recommendation]) -> list[str]:
    return [rec.item_id for rec in recs]


# --- the parts -----------------------------------------------------------------------------


def test_cooccurrence_learns_bought_together_incrementally() -> None:
    co = CoOccurrence(half_life_days=None)
    co.learn("tent", [], time_ms=0)
    co.learn("stove", ["tent"], time_ms=1)
    co.learn("novel", [], time_ms=2)
    scores = co.scores(["tent"])
    assert set(scores) == {"stove"}
    assert co.strongest_source(["novel", "tent"], "stove") == "tent"


def test_cooccurrence_nearer_items_pair_more_strongly() -> None:
    co = CoOccurrence(half_life_days=None, position_decay=0.5)
    history: list[str] = []
    for item in ("a", "b", "c"):
        co.learn(item, history, time_ms=0)
        history.append(item)
    assert co.neighbours["c"]["b"] > co.neighbours["c"]["a"]


def test_cooccurrence_memory_is_bounded() -> None:
    co = CoOccurrence(max_neighbours=5, max_items=50, window=30, half_life_days=None)
    history: list[str] = []
    for n in range(400):
        item = f"i{n % 120}"
        co.learn(item, history, time_ms=n)
        history.append(item)
    assert len(co.counts) <= 50 + 16
    assert all(len(row) <= 2 * 5 for row in co.neighbours.values())
    assert set(co.neighbours) <= set(co.counts)


def _loop_scores(co: CoOccurrence, sources: list[str], recency_decay: float) -> dict[str, float]:
    """Co-occurrence scores summed item by item in plain Python (what the arrays must match)."""
    raw: dict[str, float] = {}
    for rank, source in enumerate(sources):
        n_source = co.counts.get(source)
        row = co.neighbours.get(source)
        if n_source and row:
            scale = math.exp(-recency_decay * rank) / n_source**co.alpha
            for item, together in row.items():
                raw[item] = raw.get(item, 0.0) + scale * together
    return {item: value / n**co.beta for item, value in raw.items()
            if (n := co.counts.get(item))}


@pytest.mark.parametrize("settings", [
    {}, {"max_neighbours": 3, "max_items": 20, "half_life_days": 2.0},
    {"half_life_days": None, "alpha": 0.0, "beta": 0.0},
])
def test_cooccurrence_scores_are_the_item_by_item_sums(settings: dict[str, Any]) -> None:
    """Same floats in the same order through pruning, eviction, rescaling and pickling."""
    rng = random.Random(5)
    co = CoOccurrence(**settings)
    items = [f"i{n}" for n in range(60)]
    histories: dict[int, list[str]] = {}
    t = 0
    for step in range(3_000):
        t += rng.randrange(DAY_MS)
        history = histories.setdefault(rng.randrange(40), [])
        item = rng.choice(items[: rng.choice([8, 60])])
        co.learn(item, history, time_ms=t, weight=rng.choice([0.5, 1.0]))
        history.append(item)
        if step % 500 == 0:
            co = pickle.loads(pickle.dumps(co))
        if step % 7 == 0:
            sources = list(dict.fromkeys(rng.choice(items) for _ in range(rng.randrange(25))))
            decay = rng.choice([0.0, 0.1, 0.5])
            expected = _loop_scores(co, sources, decay)
            got = co.scores_from(sources, recency_decay=decay)
            assert list(got.items()) == list(expected.items())


def test_popularity_tracks_recent_interest() -> None:
    pop = Popularity(half_life_days=7)
    for n in range(10):
        pop.learn("old-hit", time_ms=n)
    for n in range(4):
        pop.learn("new-hit", time_ms=60 * DAY_MS + n)
    assert pop.top(2) == ["new-hit", "old-hit"]
    assert pop.score("new-hit") == 1.0
    assert Popularity(half_life_days=None).top(3) == []


def test_factorization_learns_and_forgets_a_user() -> None:
    mf = ImplicitMF(n_factors=4, negatives=2, seed=1)
    for n in range(30):
        mf.learn("ann", f"i{n % 6}")
    assert mf.knows("ann")
    scores = mf.scores("ann", ["i0", "unknown"])
    assert scores is not None and scores[1] == 0.0
    mf.forget("ann")
    assert not mf.knows("ann")
    assert mf.scores("ann") is None


def test_factorization_steps_are_rivers_bit_for_bit() -> None:
    fused = ImplicitMF(n_factors=5, negatives=3, seed=3)
    plain = ImplicitMF(n_factors=5, negatives=3, seed=3)
    assert fused._fused()
    plain._fused = lambda: False  # type: ignore[method-assign]  # River's own learn_one
    for n in range(200):
        user, item = f"u{n % 7}", f"i{(n * 5) % 11}"
        fused.learn(user, item, exclude={f"i{n % 3}"})
        plain.learn(user, item, exclude={f"i{n % 3}"})
    for latents in ("u_latents", "i_latents"):
        ours, rivers = getattr(fused.model, latents), getattr(plain.model, latents)
        assert list(ours) == list(rivers)
        assert all(ours[key].tobytes() == rivers[key].tobytes() for key in ours)
    assert fused.model.u_optimizer.n_iterations == plain.model.u_optimizer.n_iterations


def test_content_taste_and_price_bands() -> None:
    catalog = Catalog()
    catalog.upsert("a", category="shoes", tags=["running"], price=80.0)
    catalog.upsert("b", category="shoes", tags=["trail"], price=95.0)
    catalog.upsert("c", category="books", price=10.0)
    taste = catalog.taste(["a"])
    assert catalog.similarity(taste, "b") > catalog.similarity(taste, "c") >= 0.0
    assert catalog.similarity(taste, "a") == pytest.approx(1.0)
    assert price_band(1.5) == 0 and price_band(80.0) == price_band(95.0) == 6
    assert price_band(None) is None


def test_catalogue_similarities_are_the_per_item_floats_and_survive_pickling() -> None:
    catalog = Catalog()
    for n in range(150):  # rows grow past the first block; one item widens the mirror
        tags = [f"t{n % 7}", f"t{n % 5}"] + ([f"x{j}" for j in range(6)] if n == 99 else [])
        catalog.upsert(f"i{n}", category=f"c{n % 4}", tags=tags,
                       price=None if n % 3 else 2.0 + n)
    catalog.upsert("i5", category="c9", tags=["x1"], price=7.0)  # a replaced description
    for history in (["i1"], ["i5", "i99", "i30"], ["unknown"], []):
        taste = catalog.taste(history)
        for restored in (catalog, pickle.loads(pickle.dumps(catalog))):
            alike = restored.similarities(taste)
            assert len(alike) == len(restored.rows) == 150
            for item, row in restored.rows.items():
                assert alike[row] == catalog.similarity(taste, item)  # exactly, not approx
    assert "_index" not in catalog.__getstate__()  # a derived mirror, never stored


# --- the blend -----------------------------------------------------------------------------


def test_recommends_bought_together_with_its_reason() -> None:
    recs = shop().recommend("new", 3, history=["atlas", "boots", "tent"])
    assert recs[0] == Recommendation(
        "stove", recs[0].score, "bought together with tent", "cooccurrence"
    )
    assert all(rec.reason and rec.score >= 0 for rec in recs)


def test_every_recommendation_carries_a_reason_and_a_source() -> None:
    rec = shop(RecommendSettings(exploration=0.5))
    for history in ([], ["tent"], ["novel", "poems", "coffee"]):
        for item in rec.recommend("x", 5, history=history):
            assert item.reason
            assert item.source in {"cooccurrence", "factorization", "content", "popularity",
                                   "exploration", "catalog", "visit"}


def test_without_history_popularity_explains_itself() -> None:
    recs = shop().recommend("stranger", 2)
    assert recs[0].item_id == "coffee"
    assert recs[0].reason == "popular in grocery"
    assert recs[0].source == "popularity"


def test_thin_history_is_led_by_content_then_collaborative_after_three() -> None:
    rec = shop()
    rec.upsert_item("lamp", "outdoor", tags=["camping"], price=35.0)
    # one purchase: similar catalog items first (content); the lamp was never bought
    thin = rec.recommend("new", 3, history=["boots"])
    assert thin[0].source == "content"
    assert thin[0].reason == "matches your interest in outdoor"
    # three purchases: collaborative first
    rich = rec.recommend("new", 3, history=["boots", "atlas", "novel"])
    assert rich[0].source == "cooccurrence"
    assert rich[0].item_id == "poems"


def test_collaborative_weight_grows_with_history() -> None:
    rec = shop()
    one = rec.recommend("new", 6, history=["novel"])
    three = rec.recommend("new", 6, history=["atlas", "boots", "novel"])
    assert ids(three)[0] == "poems"
    sources_one = [r.source for r in one]
    assert sources_one.count("cooccurrence") <= [r.source for r in three].count("cooccurrence")


def test_the_current_visit_steers_a_long_history_towards_what_the_customer_looks_for() -> None:
    rec = shop()
    history = ["novel", "poems"]
    assert ids(rec.recommend("reader", 1, history=history)) == ["coffee"]
    looking = rec.recommend("reader", 3, history=history, visit=["boots"])
    assert ids(looking) == ["tent", "coffee", "stove"]  # outdoor first, the usual still there
    assert looking[0].source == "visit"
    assert looking[0].reason == "goes with the outdoor you are looking at"
    assert "boots" not in ids(rec.recommend("reader", 7, history=history, visit=["boots"]))


def test_no_visit_leaves_the_ranking_as_it_was() -> None:
    rec = shop()
    for history in ([], ["tent"], ["novel", "poems", "coffee"]):
        assert rec.recommend("x", 5, history=history) == rec.recommend(
            "x", 5, history=history, visit=())


# --- filters ---------------------------------------------------------------------------------


def test_out_of_stock_items_are_never_recommended() -> None:
    rec = shop()
    rec.upsert_item("stove", "outdoor", tags=["camping", "cooking"], price=40.0, in_stock=False)
    assert "stove" not in ids(rec.recommend("new", 10, history=["tent"]))


def test_already_bought_items_are_filtered_but_consumables_come_back() -> None:
    plain = shop()
    assert "coffee" not in ids(plain.recommend("c", 10, history=["coffee", "tent"]))
    consumable = shop(RecommendSettings(exploration=0.0,
                                        consumable_categories=frozenset({"grocery"})))
    recs = ids(consumable.recommend("c", 10, history=["coffee", "tent"]))
    assert "coffee" in recs and "tent" not in recs


def test_items_shown_three_times_are_dropped() -> None:
    rec = shop()
    assert "stove" in ids(rec.recommend("new", 10, history=["tent"], shown={"stove": 2}))
    assert "stove" not in ids(rec.recommend("new", 10, history=["tent"], shown={"stove": 3}))


# --- exploration ---------------------------------------------------------------------------


def big_shop(settings: RecommendSettings) -> Recommender:
    rec = Recommender(settings)
    t = 0
    for customer in range(60):
        history: list[str] = []
        for step in range(6):
            item = f"i{(customer * 7 + step * 13) % 300}"
            rec.learn(f"c{customer}", item, time_ms=t, history=history)
            history.append(item)
            t += 1
    return rec


def test_exploration_share_is_about_ten_percent_and_seeded() -> None:
    rec = big_shop(RecommendSettings(weight_factorization=0.0))
    runs = [rec.recommend(f"c{n}", 10, history=[f"i{n}"]) for n in range(200)]
    explored = sum(r.source == "exploration" for recs in runs for r in recs)
    total = sum(len(recs) for recs in runs)
    assert 0.07 <= explored / total <= 0.13
    assert all(r.reason == "new for you" for recs in runs for r in recs
               if r.source == "exploration")
    again = [rec.recommend(f"c{n}", 10, history=[f"i{n}"]) for n in range(200)]
    assert again == runs  # deterministic
    other = big_shop(RecommendSettings(weight_factorization=0.0, seed=8))
    assert [other.recommend(f"c{n}", 10, history=[f"i{n}"]) for n in range(200)] != runs


def test_exploration_can_be_switched_off() -> None:
    rec = big_shop(RecommendSettings(weight_factorization=0.0, exploration=0.0))
    runs = [rec.recommend(f"c{n}", 10, history=[f"i{n}"]) for n in range(50)]
    assert not any(r.source == "exploration" for recs in runs for r in recs)


# --- guarantees ----------------------------------------------------------------------------


def test_forget_removes_the_customers_state() -> None:
    rec = shop()
    assert rec.factorization is not None and rec.factorization.knows("camper0")
    rec.forget("camper0")
    assert not rec.factorization.knows("camper0")
    blob = pickle.dumps(rec)
    assert b"camper0" not in blob
    assert rec.recommend("camper0", 3, history=["tent"])  # still served, from shared state
    rec.forget("nobody")  # unknown customers are fine


def test_pickle_round_trip_gives_identical_recommendations() -> None:
    rec = shop(RecommendSettings(exploration=0.3))
    restored = pickle.loads(pickle.dumps(rec))
    for customer, history in (("camper1", ["tent"]), ("x", []), ("reader2", ["novel", "poems"])):
        assert restored.recommend(customer, 5, history=history) == rec.recommend(
            customer, 5, history=history
        )
    restored.learn("camper1", "boots", time_ms=99_000, history=["tent", "stove"])
    rec.learn("camper1", "boots", time_ms=99_000, history=["tent", "stove"])
    assert restored.recommend("camper1", 5, history=["tent"]) == rec.recommend(
        "camper1", 5, history=["tent"]
    )


def test_recommend_before_any_learning() -> None:
    empty = Recommender()
    assert empty.recommend("ann", 5) == []
    assert empty.recommend("ann", 5, history=["x"], shown={"y": 1}) == []
    empty.upsert_item("new-1", "toys")
    empty.upsert_item("new-2", "toys", in_stock=False)
    recs = Recommender(QUIET)
    recs.upsert_item("new-1", "toys")
    assert recs.recommend("ann", 5) == [Recommendation("new-1", 0.0, "new for you", "catalog")]
    assert empty.recommend("ann", 0) == []


def test_inputs_are_not_mutated() -> None:
    rec = shop(RecommendSettings(exploration=0.5))
    history = ["tent", "coffee"]
    shown = {"stove": 1}
    frozen = (copy.deepcopy(history), copy.deepcopy(shown))
    rec.recommend("camper0", 5, history=history, shown=shown)
    rec.learn("camper0", "boots", time_ms=10**6, history=history)
    assert (history, shown) == frozen


def test_weights_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Recommender().learn("ann", "x", time_ms=0, weight=0)
