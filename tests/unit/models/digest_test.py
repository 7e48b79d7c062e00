"""Weekly sentiment digest: themes, examples, PII, week boundaries, publication, memory."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from nextbest.models.sentiment import SentimentDigest, render_digest
from nextbest.models.sentiment.digest import (
    DAY_MS,
    SNIPPET_CHARS,
    WEEK_MS,
    scrub,
    snippet,
    week_bounds,
    week_of,
)

MONDAY = 1_763_337_600_000  # 2025-11-17 00:00 UTC, start of 2025-W47
WEEK = "2025-W47"


def _fill(digest: SentimentDigest, start: int = MONDAY) -> None:
    """Negative: shipping 5, returns 3, product_quality 2, staff 1; positive: general 4."""
    plan = [("shipping", 5), ("returns", 3), ("product_quality", 2), ("staff", 1)]
    t = start
    for topic, n in plan:
        for i in range(n):
            digest.add(t, f"{topic} complaint {i}", 0.7 + 0.01 * i, (topic,), "support")
            t += 1000
    for i in range(4):
        digest.add(t, f"great {i}", 0.1, (), "review")
        t += 1000
    digest.add(t, "meh", 0.5, ("pricing",), "review")  # neutral: counted, no theme


def test_top_three_negative_themes_in_count_order() -> None:
    digest = SentimentDigest()
    _fill(digest)
    report = digest.digest(WEEK)
    assert report["texts"] == 16
    assert (report["negative_texts"], report["positive_texts"], report["neutral_texts"]) == (
        11, 4, 1)
    assert report["sources"] == {"review": 5, "support": 11}
    top = [(t["theme"], t["count"]) for t in report["negative"]]
    assert top == [("shipping", 5), ("returns", 3), ("product_quality", 2)]
    assert report["negative"][0]["share"] == pytest.approx(5 / 16, abs=1e-4)
    assert [(t["theme"], t["count"]) for t in report["positive"]] == [("general", 4)]
    assert json.loads(json.dumps(report)) == report


def test_a_text_with_two_topics_counts_under_both_and_ties_break_by_name() -> None:
    digest = SentimentDigest()
    digest.add(MONDAY, "late and broken", 0.9, ("shipping", "product_quality"), "review")
    digest.add(MONDAY, "late again", 0.9, ("shipping", "shipping"), "review")
    digest.add(MONDAY, "rude", 0.9, ("staff",), "support")
    report = digest.digest(WEEK)
    assert [(t["theme"], t["count"]) for t in report["negative"]] == [
        ("shipping", 2), ("product_quality", 1), ("staff", 1)]
    assert report["texts"] == 3


def test_polarity_thresholds() -> None:
    digest = SentimentDigest()
    for p in (0.6, 0.59, 0.41, 0.4):
        digest.add(MONDAY, f"text {p}", p, (), "review")
    report = digest.digest(WEEK)
    assert (report["negative_texts"], report["neutral_texts"], report["positive_texts"]) == (
        1, 2, 1)


def test_examples_are_the_most_extreme_texts() -> None:
    digest = SentimentDigest(max_examples=3)
    rng = random.Random(7)
    probs = [rng.uniform(0.6, 0.9) for _ in range(200)]
    probs[57], probs[140] = 0.99, 0.97
    for i, p in enumerate(probs):
        digest.add(MONDAY + i, f"late parcel number {i}", p, ("shipping",), "support")
    for i, p in enumerate([0.3, 0.01, 0.2, 0.05, 0.35]):
        digest.add(MONDAY + i, f"fast delivery {i}", p, ("shipping",), "review")
    report = digest.digest(WEEK)
    negative = report["negative"][0]["examples"]
    assert [e["text"] for e in negative] == ["late parcel number 57", "late parcel number 140"]
    assert [e["negative"] for e in negative] == [0.99, 0.97]
    positive = report["positive"][0]["examples"]
    assert [e["text"] for e in positive] == ["fast delivery 1", "fast delivery 3"]
    assert positive[0]["source"] == "review"


def test_duplicate_texts_do_not_fill_the_examples() -> None:
    digest = SentimentDigest()
    for _ in range(5):
        digest.add(MONDAY, "Where is my order?", 0.95, ("shipping",), "support")
    digest.add(MONDAY, "Still waiting for it", 0.8, ("shipping",), "support")
    examples = digest.digest(WEEK)["negative"][0]["examples"]
    assert [e["text"] for e in examples] == ["Where is my order?", "Still waiting for it"]


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Write to jane.doe+shop@mail.example.co.uk now", "jane.doe"),
        ("Call me on +1 (555) 123-4567 please", "123-4567"),
        ("my number is 0612345678", "0612345678"),
        ("ring 020 7946 0958 today", "7946"),
        ("card 4111 1111 1111 1111 was charged", "4111"),
    ],
)
def test_pii_is_scrubbed_from_examples(text: str, leak: str) -> None:
    digest = SentimentDigest()
    digest.add(MONDAY, text, 0.9, ("staff",), "support")
    shown = digest.digest(WEEK)["negative"][0]["examples"][0]["text"]
    assert leak not in shown
    assert "[email]" in shown or "[phone]" in shown
    assert leak not in repr(pickle.dumps(digest))  # never stored, not only hidden


def test_ids_dates_and_prices_are_kept() -> None:
    text = "Order ORD-1234567 (#98765432, customer C-7654321) from 2025-11-17 cost $129.99"
    assert scrub(text) == text


def test_snippets_are_short_and_collapse_whitespace() -> None:
    long = "The courier  left\nthe box in the rain " * 20 + "mail me at a@b.io"
    short = snippet(long)
    assert len(short) <= SNIPPET_CHARS and short.endswith("…")
    assert "  " not in short and "\n" not in short
    digest = SentimentDigest()
    digest.add(MONDAY, long, 0.9, ("shipping",), "review")
    assert len(digest.digest(WEEK)["negative"][0]["examples"][0]["text"]) <= SNIPPET_CHARS


def test_week_boundary_sunday_night_vs_monday_midnight() -> None:
    sunday_2359 = MONDAY + WEEK_MS - 60_000
    next_monday = MONDAY + WEEK_MS
    assert week_of(sunday_2359) == "2025-W47"
    assert week_of(next_monday) == "2025-W48"
    assert SentimentDigest.week_of(MONDAY - 1) == "2025-W46"
    assert week_bounds("2025-W47") == (MONDAY, MONDAY + WEEK_MS)
    digest = SentimentDigest()
    digest.add(sunday_2359, "late", 0.9, ("shipping",), "review")
    digest.add(next_monday, "late", 0.9, ("shipping",), "review")
    assert digest.digest("2025-W47")["texts"] == 1
    assert digest.digest("2025-W48")["texts"] == 1
    assert digest.digest("2025-W47")["end_ms"] == next_monday


def test_iso_week_year_differs_from_calendar_year() -> None:
    # 2024-12-30 (Monday) belongs to 2025-W01; 2027-01-01 (Friday) to 2026-W53
    assert week_of(1_735_516_800_000) == "2025-W01"
    assert week_of(1_798_761_600_000) == "2026-W53"
    start, end = week_bounds("2026-W53")
    assert start <= 1_798_761_600_000 < end
    with pytest.raises(ValueError):
        week_bounds("2026-47")


def test_due_and_mark_published() -> None:
    digest = SentimentDigest()
    digest.add(MONDAY, "late", 0.9, ("shipping",), "review")
    digest.add(MONDAY + WEEK_MS, "late", 0.9, ("shipping",), "review")
    assert digest.due(MONDAY + WEEK_MS - 1) == []
    assert digest.due(MONDAY + WEEK_MS) == ["2025-W47"]
    assert digest.due(MONDAY + 2 * WEEK_MS) == ["2025-W47", "2025-W48"]
    digest.mark_published("2025-W47")
    digest.mark_published("2030-W01")  # not held: ignored
    assert digest.due(MONDAY + 2 * WEEK_MS) == ["2025-W48"]
    assert digest.digest("2025-W47")["published"] is True
    digest.mark_published("2025-W48")
    assert digest.due(MONDAY + 2 * WEEK_MS) == []


def test_published_weeks_are_forgotten_after_retention_and_never_come_back() -> None:
    digest = SentimentDigest(retain_weeks=8)
    digest.add(MONDAY, "late", 0.9, ("shipping",), "review")
    digest.mark_published(WEEK)
    end = MONDAY + WEEK_MS
    digest.due(end + 8 * WEEK_MS - 1)
    assert digest.weeks == (WEEK,)
    digest.due(end + 8 * WEEK_MS)
    assert digest.weeks == ()
    digest.add(MONDAY + DAY_MS, "very late event", 0.9, ("shipping",), "review")
    assert digest.weeks == () and digest.dropped_texts == 1
    assert digest.due(end + 9 * WEEK_MS) == []


def test_unpublished_weeks_are_kept_and_late_texts_still_count() -> None:
    digest = SentimentDigest()
    for w in range(12):
        digest.add(MONDAY + w * WEEK_MS, "late", 0.9, ("shipping",), "review")
    assert len(digest.due(MONDAY + 12 * WEEK_MS)) == 12
    digest.add(MONDAY + 5, "late again", 0.9, ("shipping",), "review")
    assert digest.digest(WEEK)["texts"] == 2


def test_memory_stays_bounded_over_ten_thousand_texts() -> None:
    digest = SentimentDigest(max_examples=3, max_weeks=10, max_themes=8)
    rng = random.Random(1)
    topics = ["shipping", "product_quality", "staff", "pricing", "returns"]
    for i in range(10_000):
        time_ms = MONDAY + i * 3 * 3_600_000  # 3 h apart: ~179 weeks
        picked = (*rng.sample(topics, rng.randint(0, 2)), f"junk{i % 50}")
        text = f"text {i} " + "x" * rng.randint(0, 2000)
        digest.add(time_ms, text, rng.random(), picked, rng.choice(("review", "support")))
        if i % 56 == 0:
            for week in digest.due(time_ms):
                digest.mark_published(week)
    assert len(digest.weeks) <= 10
    for key in digest.weeks:
        held = digest._weeks[key]
        for polarity in ("negative", "positive"):
            assert len(held.counts[polarity]) <= 8
            assert "other" in held.counts[polarity]
            for heap in held.examples[polarity].values():
                assert len(heap) <= 3
                assert all(len(e[4]) <= SNIPPET_CHARS for e in heap)
    assert len(pickle.dumps(digest)) < 400_000


def test_max_weeks_evicts_the_oldest() -> None:
    digest = SentimentDigest(max_weeks=3)
    for w in range(5):
        digest.add(MONDAY + w * WEEK_MS, "late", 0.9, ("shipping",), "review")
    assert digest.weeks == ("2025-W49", "2025-W50", "2025-W51")
    assert digest.dropped_weeks == 2
    digest.add(MONDAY, "late", 0.9, ("shipping",), "review")  # older than every kept week
    assert digest.dropped_texts == 1 and len(digest.weeks) == 3


def test_unknown_source_is_rejected() -> None:
    with pytest.raises(ValueError):
        SentimentDigest().add(MONDAY, "x", 0.9, (), "email")


def test_pickle_round_trip() -> None:
    digest = SentimentDigest()
    _fill(digest)
    digest.add(MONDAY + WEEK_MS, "late", 0.9, ("shipping",), "review")
    digest.mark_published(WEEK)
    clone = pickle.loads(pickle.dumps(digest))
    assert clone.digest(WEEK) == digest.digest(WEEK)
    assert clone.due(MONDAY + 2 * WEEK_MS) == ["2025-W48"]
    clone.add(MONDAY, "shipping again", 0.99, ("shipping",), "support")
    assert clone.digest(WEEK)["negative"][0]["count"] == 6
    assert digest.digest(WEEK)["negative"][0]["count"] == 5


def test_render_lists_the_themes_and_examples() -> None:
    digest = SentimentDigest()
    _fill(digest)
    text = render_digest(digest.digest(WEEK))
    lines = text.splitlines()
    assert lines[0] == "Sentiment digest 2025-W47 (2025-11-17 to 2025-11-23 UTC)"
    assert "16 texts" in lines[1] and "11 negative" in lines[1]
    negative = text.index("Top negative themes")
    positive = text.index("Top positive themes")
    assert negative < text.index("shipping") < text.index("returns") < positive
    assert text.index("product_quality") < positive < text.index("general")
    assert "staff" not in text  # fourth theme is not in the top three
    assert '"shipping complaint 4"' in text and "31.2%" in text
