"""The online models inside the running pipeline, on a real broker and Redis: decisions use what
they learnt, scores are served, and a replacement worker resumes from the models' checkpoint."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from nextbest.models.suite import ModelSuite
from nextbest.streams.checkpoints import load_checkpoint
from tests.events import DAY, MINUTE, click, order, review, support
from tests.integration.harness import Harness

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
POSITIVE = "Delicious and fresh, arrived quickly. Love it, will buy again!"
NEGATIVE = "Awful. Stale, tasteless and the box was broken. Waste of money."
ANGRY = "This is terrible, I am furious, the worst service ever. Awful, useless."
REVIEWS = 40

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbmodels-{uuid.uuid4().hex[:8]}",
                data_dir=Path(tmp_path_factory.mktemp("models")), model_checkpoint_seconds=1.0)
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


def checkpointed(harness: Harness) -> ModelSuite | None:
    data = asyncio.run(load_checkpoint(harness.settings))
    return ModelSuite.restore(data) if data else None


def who() -> dict[str, str]:
    return {"email": f"{uuid.uuid4().hex[:10]}@example.com"}


def of_type(decisions: list[dict], kind: str, customer: str) -> list[dict]:
    return [d for d in decisions if d["decision_type"] == kind and d["customer_id"] == customer]


def test_reviews_teach_sentiment_and_an_angry_loyal_customer_reaches_a_person(
    harness: Harness,
) -> None:
    harness.publish("review", [
        review(T0 + i * MINUTE, "coffee-1", 5 if i % 2 else 1, POSITIVE if i % 2 else NEGATIVE,
               customer=who())
        for i in range(REVIEWS)
    ])
    loyal = who()
    harness.publish("purchase", [order(T0 + k * 20 * DAY, f"l{k}-{uuid.uuid4().hex[:6]}",
                                       total=150.0, customer=loyal) for k in range(6)])
    view = harness.customer(f"email:{loyal['email']}", until=lambda v: v["profile"]["orders"] == 6)
    harness.publish("support", [support(T0 + 130 * DAY, "angry-1", ANGRY, customer=loyal)])
    customer_id = view["customer_id"]
    decisions = harness.decisions(until=lambda ds: bool(of_type(ds, "escalation", customer_id)))
    (escalation,) = of_type(decisions, "escalation", customer_id)
    assert [r["code"] for r in escalation["reasons"]] == ["negative_sentiment_high_value"]
    assert escalation["scores"]["negative_sentiment"] >= 0.85
    served = harness.customer(f"email:{loyal['email']}",
                              until=lambda v: v["scores"].get("sentiment") is not None)
    assert served["scores"]["sentiment"] < 0
    assert 0.0 <= served["scores"]["churn_risk"] <= 1.0
    stats = harness.models(until=lambda s: s["learnt"]["sentiment"] >= REVIEWS)
    assert stats["quality"]["sentiment"] is not None


def test_cart_reminder_suggests_what_others_bought_with_the_cart(harness: Harness) -> None:
    for i in range(20):
        buyer = who()
        harness.publish("purchase", [
            order(T0 + i * MINUTE, f"t{i}-{uuid.uuid4().hex[:6]}", item_id="tent",
                  category="camping", customer=buyer),
            order(T0 + i * MINUTE + 1, f"s{i}-{uuid.uuid4().hex[:6]}", item_id="sleeping-bag",
                  category="camping", customer=buyer),
        ])
    shopper = who()
    harness.publish("clickstream", [click(T0 + DAY, "add_to_cart", item_id="tent",
                                          category="camping", price=120.0, customer=shopper)])
    view = harness.customer(f"email:{shopper['email']}", until=lambda v: bool(v["profile"]["cart"]))
    # Event time moves on (someone else's click): the abandoned cart's reminder falls due.
    harness.publish("clickstream", [click(T0 + DAY + 40 * MINUTE, "page_view", customer=who())])
    customer_id = view["customer_id"]
    decisions = harness.decisions(until=lambda ds: bool(of_type(ds, "cart_reminder", customer_id)))
    (reminder,) = of_type(decisions, "cart_reminder", customer_id)
    suggestions = orjson.loads(reminder["payload"])["recommendations"]  # payload is JSON text
    assert suggestions[0]["item_id"] == "sleeping-bag"
    assert all(s["reason"] for s in suggestions)


def test_a_replacement_worker_resumes_the_models_learning(harness: Harness,
                                                         tmp_path: Path) -> None:
    harness.models(until=lambda s: s["learnt"]["sentiment"] >= REVIEWS)
    # Wait until the newest checkpoint on the topic holds everything the worker learnt, then
    # kill the worker: its replacement has no local state, only that checkpoint.
    deadline = time.monotonic() + 30
    while True:
        live = harness.models(until=lambda s: True)
        saved = checkpointed(harness)
        if saved is not None and saved.events == live["events"]:
            break
        assert time.monotonic() < deadline, "no checkpoint caught up with the worker"
        time.sleep(0.5)
    harness.worker.stop(kill=True)
    harness.restart_worker_without_local_state(tmp_path / "replacement")
    resumed = harness.models(until=lambda s: True)
    assert resumed["events"] == saved.events > 0
    assert resumed["learnt"] == saved.stats()["learnt"]
    assert resumed["learnt"]["sentiment"] >= REVIEWS
    harness.publish("review", [review(T0 + 200 * DAY, "coffee-1", 5, POSITIVE, customer=who())])
    harness.models(until=lambda s: s["learnt"]["sentiment"] == resumed["learnt"]["sentiment"] + 1)
