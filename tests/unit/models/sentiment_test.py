"""Sentiment model, topic tags and per-topic spike detection (no broker)."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from nextbest.models.sentiment import (
    TOPICS,
    HashedLogisticRegression,
    SentimentModel,
    TopicSpikes,
    hashed_features,
    lexicon_available,
    tag_topics,
    tokens,
)
from nextbest.replay.reviews import auc

HOUR = 3_600_000
NEGATIVE_TEXT = "This is terrible. Awful quality, the worst purchase I have ever made."
POSITIVE_TEXT = "Wonderful! I love it, excellent quality and a great price."

needs_vader = pytest.mark.skipif(not lexicon_available(), reason="vaderSentiment not installed")


def _made_up_reviews(n: int, seed: int = 3) -> list[tuple[str, bool]]:
    """Texts whose sentiment words are invented, so the lexicon cannot know them."""
    rng = random.Random(seed)
    good = ["zorbly", "fizzwick", "plumbo"]
    bad = ["grottle", "snarvy", "blech"]
    filler = ["the", "box", "widget", "came", "today", "with", "a", "lid"]
    out = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(filler, 4) + rng.sample(good if positive else bad, 2)
        rng.shuffle(words)
        out.append((" ".join(words), positive))
    return out


def test_learns_positive_vs_negative_from_labelled_texts() -> None:
    model = SentimentModel(ramp=5.0)
    before = model.score("zorbly fizzwick widget").positive
    for text, positive in _made_up_reviews(60):
        model.learn_label(text, positive)
    good = model.score("a zorbly plumbo widget").positive
    bad = model.score("a snarvy blech widget").positive
    assert good > 0.7 > 0.3 > bad
    assert good > before


@needs_vader
def test_cold_start_uses_the_lexicon() -> None:
    model = SentimentModel()
    neg = model.score(NEGATIVE_TEXT)
    pos = model.score(POSITIVE_TEXT)
    assert neg.learned_weight == 0.0
    assert neg.lexicon < -0.5 and pos.lexicon > 0.5
    assert neg.negative > 0.75 and pos.positive > 0.75
    assert neg.positive + neg.negative == pytest.approx(1.0)
    assert neg.confidence == pytest.approx(abs(neg.positive - neg.negative))


def test_blend_weight_grows_with_data() -> None:
    model = SentimentModel()
    weights = [model.score("a widget").learned_weight]
    for chunk in range(3):
        for text, positive in _made_up_reviews(20, seed=chunk):
            model.learn_label(text, positive)
        weights.append(model.score("a widget").learned_weight)
    assert weights[0] == 0.0
    assert weights == sorted(weights) and len(set(weights)) == len(weights)
    assert 0.0 < weights[-1] < 1.0


def test_ratings_map_to_labels_and_three_is_ignored() -> None:
    model = SentimentModel()
    assert model.learn("fine", 3) is False
    assert model.learn("fine", float("nan")) is False
    assert model.n_learned == 0
    for _ in range(10):
        assert model.learn("zorbly", 5) and model.learn("zorbly", 4)
        assert model.learn("grottle", 1) and model.learn("grottle", 2)
    assert model.n_learned == 40
    assert model.score("zorbly").positive > model.score("grottle").positive


def test_tokens_strip_html_and_mark_negation() -> None:
    assert tokens("Not GOOD.<br />Good!") == ["not", "not_good", "good", "!"]
    assert tokens("I don't like it, really") == ["i", "don't", "not_like", "not_it", "really"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("My order was shipped late and the delivery took forever", "shipping"),
        ("The parcel never arrived", "shipping"),
        ("Poor quality, it fell apart after a week", "product_quality"),
        ("The coffee tasted stale", "product_quality"),
        ("The cashier was rude and the staff ignored me", "staff"),
        ("Customer service hung up on me", "staff"),
        ("Way too expensive, overpriced for what you get", "pricing"),
        ("A waste of money", "pricing"),
        ("I returned it and I am still waiting for my refund", "returns"),
        ("They asked me to send it back", "returns"),
    ],
)
def test_topics_tagged_for_each_topic(text: str, topic: str) -> None:
    assert topic in tag_topics(text)


def test_topics_are_ordered_and_untagged_text_is_empty() -> None:
    tags = tag_topics("Refund please: the price was high and shipping slow")
    assert tags == tuple(t for t in TOPICS if t in tags)
    assert set(tags) == {"shipping", "pricing", "returns"}
    assert tag_topics("Lovely little mug") == ()


def _steady(spikes: TopicSpikes, hours: int, rate: float, seed: int) -> list[object]:
    rng = random.Random(seed)
    alerts: list[object] = []
    t = 0
    for _ in range(hours * 20):
        t += rng.randrange(1, 2 * HOUR // 20)
        alerts += spikes.observe([rng.choice(TOPICS)], rng.random() < rate, t)
    return alerts


def test_spikes_quiet_on_steady_traffic() -> None:
    spikes = TopicSpikes()
    assert _steady(spikes, hours=24 * 14, rate=0.3, seed=11) == []
    assert spikes.baseline_rate("shipping") == pytest.approx(0.3, abs=0.08)


def test_spikes_fire_on_a_burst_in_one_topic() -> None:
    spikes = TopicSpikes()
    _steady(spikes, hours=24 * 7, rate=0.2, seed=5)
    assert spikes.watermark_ms is not None
    start = spikes.watermark_ms
    alerts = []
    for i in range(40):  # 40 complaints about shipping in 40 minutes
        alerts += spikes.observe(("shipping",), True, start + i * 60_000)
    assert len(alerts) == 1  # cooldown: one alert per burst
    alert = alerts[0]
    assert alert.topic == "shipping"
    assert alert.window_rate > 1.5 * alert.baseline_rate
    assert alert.count >= spikes.min_count and alert.z_score >= spikes.z_threshold
    assert start <= alert.at_ms < start + 40 * 60_000


def test_spikes_window_is_bounded_and_late_events_go_to_baseline() -> None:
    spikes = TopicSpikes(window_ms=HOUR, bucket_ms=60_000)
    for i in range(2000):
        spikes.observe(["staff"], i % 4 == 0, i * 60_000)
    assert len(spikes._topics["staff"].buckets) <= 61
    count, _ = spikes.window("staff")
    late_before = spikes.window("staff")
    spikes.observe(["staff"], True, 0)  # far older than the window
    assert spikes.window("staff") == late_before
    assert count <= 61
    clone = pickle.loads(pickle.dumps(spikes))
    assert clone.window("staff") == spikes.window("staff")
    assert clone.baseline_rate("staff") == spikes.baseline_rate("staff")


def test_spikes_cap_topics() -> None:
    spikes = TopicSpikes(max_topics=3)
    for i in range(10):
        spikes.observe([f"t{i}"], True, i)
    assert len(spikes.topics) == 3


def test_pickle_round_trip_gives_identical_scores_and_is_small() -> None:
    model = SentimentModel()
    fresh = len(pickle.dumps(model))
    reviews = _made_up_reviews(200)
    for text, positive in reviews:
        model.learn_label(text, positive)
    data = pickle.dumps(model)
    clone = pickle.loads(data)
    for text, _ in reviews[:20]:
        assert clone.score(text) == model.score(text)
    # state is only touched buckets (index + weight + squared gradient) plus a few scalars
    assert fresh < 2_000
    assert len(data) < fresh + 12 * model.active_features + 1_000
    assert b"vader" not in data.lower()
    # learning continues identically after a restore
    model.learn_label("zorbly box", False)
    clone.learn_label("zorbly box", False)
    assert clone.score("zorbly box") == model.score("zorbly box")


def test_inputs_are_not_mutated() -> None:
    topics = ["shipping", "pricing"]
    TopicSpikes().observe(topics, True, 1)
    assert topics == ["shipping", "pricing"]
    clf = HashedLogisticRegression(n_features=64)
    idx = hashed_features("one two three", 64)
    kept = idx.copy()
    clf.learn(idx, True)
    clf.logit(idx)
    np.testing.assert_array_equal(idx, kept)


def test_memory_is_bounded_by_the_hash_space() -> None:
    model = SentimentModel(n_features=512)
    rng = random.Random(1)
    for i in range(400):
        words = " ".join(f"w{rng.randrange(10**9)}" for _ in range(8))
        model.learn_label(words, i % 2 == 0)
    assert 0 < model.active_features <= 512
    assert model.text.weights.shape == (512,)
    assert len(pickle.dumps(model)) < 12 * 512 + 2_000


def test_auc_matches_pairwise_count() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.4
    s = np.round(rng.random(200) + 0.3 * y, 1)  # rounding makes ties
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc(list(y), list(s)) == pytest.approx(pairs / (len(pos) * len(neg)))
