"""The demo's view rendered from a snapshot of a real demo run: two scrapes of a worker's
/metrics three seconds apart, its /models and a decision read from a decision topic
(tests/unit/data/demo_view/). Expected numbers are read from the files here, independently of
the view's own parsing."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from nextbest.cli.live_view import DemoState, plain_lines, render
from nextbest.cli.worker_reading import WorkerReading, parse_metrics

DATA = Path(__file__).parent / "data" / "demo_view"
SECONDS_BETWEEN = 3.0


def sample_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a sample's values over the lines whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if found and all(f'{k}="{v}"' in (found.group(1) or "") for k, v in labels.items()):
            total += float(found.group(2))
    return total


@pytest.fixture(scope="module")
def texts() -> tuple[str, str]:
    return ((DATA / "metrics_earlier.txt").read_text(), (DATA / "metrics.txt").read_text())


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    stats: dict[str, Any] = orjson.loads((DATA / "models.json").read_bytes())
    return stats


@pytest.fixture(scope="module")
def decision() -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads((DATA / "decision.json").read_bytes())
    return record


def state(texts: tuple[str, str], models: dict[str, Any] | None, decision: dict[str, Any] | None,
          **changes: Any) -> DemoState:
    earlier, latest = texts
    values: dict[str, Any] = {
        "elapsed": 42.0, "sent": 4217, "malformed": 41, "send_rate": 100.4,
        "worker_url": "http://127.0.0.1:6066",
        "reading": WorkerReading(10.0 + SECONDS_BETWEEN, parse_metrics(latest), models),
        "earlier": WorkerReading(10.0, parse_metrics(earlier), None),
        "latencies_ms": [4.0, 6.0, 9.0, 12.0, 250.0], "matched": 5, "example": decision,
    }
    return DemoState(**{**values, **changes})


def screen(view: DemoState, width: int = 110) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(render(view))
    return console.export_text()


def line_with(text: str, *words: str) -> str:
    """The one line of ``text`` holding every word."""
    (line,) = [line for line in text.splitlines() if all(w in line for w in words)]
    return line


def test_the_dashboard_shows_each_section(texts: tuple[str, str], models: dict[str, Any],
                                          decision: dict[str, Any]) -> None:
    shown = screen(state(texts, models, decision))
    for title in ("Traffic", "Latency event -> decision", "Decisions by type", "Verdicts",
                  "Dead letters by reason", "Models", "Example decision"):
        assert title in shown


def test_rates_are_the_change_of_the_workers_counters(texts: tuple[str, str]) -> None:
    earlier, latest = texts
    events = sample_sum(latest, "nextbest_events_in_total")
    per_s = (events - sample_sum(earlier, "nextbest_events_in_total")) / SECONDS_BETWEEN
    decisions = sample_sum(latest, "nextbest_decisions_total")
    decision_rate = (decisions - sample_sum(earlier, "nextbest_decisions_total")) / SECONDS_BETWEEN
    shown = screen(state(texts, None, None))
    assert f"{events:,.0f}" in line_with(shown, "events in")
    assert f"{per_s:,.1f}/s" in line_with(shown, "events in")
    assert f"{decisions:,.0f}" in line_with(shown, "decisions sent")
    assert f"{decision_rate:,.1f}/s" in line_with(shown, "decisions sent")
    assert "4,217" in line_with(shown, "messages sent") and "100.4/s" in shown


def test_decisions_verdicts_and_dead_letters_come_from_the_metrics(
        texts: tuple[str, str]) -> None:
    latest = texts[1]
    shown = screen(state(texts, None, None))
    for decision_type in ("cart_reminder", "support_reply", "review_request"):
        total = sample_sum(latest, "nextbest_decisions_total", decision_type=decision_type)
        assert total > 0
        assert f" {total:,.0f} " in line_with(shown, decision_type)
    deferred = sample_sum(latest, "nextbest_decision_verdicts_total", status="deferred",
                          rule="behavioural_delay")
    assert line_with(shown, "deferred by behavioural_delay").rstrip(" │").endswith(
        f"{deferred:,.0f}")
    held_out = sample_sum(latest, "nextbest_decision_verdicts_total", status="control")
    assert line_with(shown, "held out").rstrip(" │").endswith(f"{held_out:,.0f}")
    for reason in ("schema_validation_failed", "truncated", "invalid_json", "bad_magic_byte",
                   "no_customer_identifier"):
        letters = sample_sum(latest, "nextbest_deadletters_total", reason=reason)
        assert letters > 0
        assert re.search(rf"{reason}\s+{letters:,.0f} ", line_with(shown, reason))


def test_models_show_quality_and_what_they_learnt(texts: tuple[str, str], models: dict[str, Any]
                                                 ) -> None:
    shown = screen(state(texts, models, None))
    recommender = line_with(shown, "recommender", "hit rate@10")
    assert f"hit rate@10: {models['quality']['recommender']:.2f}" in recommender
    assert f" {models['learnt']['recommender']} " in recommender
    assert "accuracy: not yet" in line_with(shown, "sentiment", "accuracy")
    assert f"{models['events']:,} events learnt" in shown


def test_latency_percentiles_of_the_matched_decisions(texts: tuple[str, str]) -> None:
    shown = screen(state(texts, None, None))
    assert "9.0 ms" in line_with(shown, "p50")  # nearest rank: the 3rd of 5
    assert "250.0 ms" in line_with(shown, "p95") and "250.0 ms" in line_with(shown, "p99")


def test_the_example_decision_with_its_reasons_and_the_customers_page(
        texts: tuple[str, str], models: dict[str, Any], decision: dict[str, Any]) -> None:
    shown = screen(state(texts, models, decision), width=220)
    customer = decision["customer_id"]
    assert f"{decision['decision_type']} for {customer}" in shown
    for reason in decision["reasons"]:
        assert f"{reason['code']}: {reason['text']}" in shown
    assert f"http://127.0.0.1:6066/360/{customer}" in line_with(shown, "customer 360")
    assert "?token" not in shown
    signed = screen(state(texts, models, decision, token_set=True), width=220)
    assert f"/360/{customer}?token=$NEXTBEST_API_TOKEN" in signed


def test_a_silent_worker_and_a_restarted_one(texts: tuple[str, str]) -> None:
    silent = screen(state(texts, None, None, reading=None, earlier=None))
    assert "worker not answering" in silent
    assert re.search(r"decisions sent\s+-\s+-", silent)  # not a zero it did not read
    assert "/models not answering" in silent
    earlier, latest = texts
    restarted = state((latest, earlier), None, None)  # counters went down: no rate
    assert re.search(r"events in \(valid\)\s+[\d,]+\s+-\s", screen(restarted))


def test_plain_lines_say_the_same(texts: tuple[str, str], models: dict[str, Any],
                                  decision: dict[str, Any]) -> None:
    latest = texts[1]
    lines = plain_lines(state(texts, models, decision))
    text = "\n".join(lines)
    truncated = sample_sum(latest, "nextbest_deadletters_total", reason="truncated")
    assert f"truncated {truncated:,.0f}" in line_with(text, "dead letters:")
    assert "p50 9.0 ms, p95 250.0 ms, p99 250.0 ms" in text
    assert f"hit rate@10: {models['quality']['recommender']:.2f}" in text
    assert f"/360/{decision['customer_id']}" in text
    assert "\x1b" not in text  # no terminal codes in a pipe
