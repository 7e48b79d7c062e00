"""The harness reads exactly what a topic held once the condition held (no time window)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nextbest.streams.admin import ensure_topics
from tests.events import review
from tests.integration.harness import Harness

T0 = 1_767_225_600_000


def test_read_returns_everything_the_topics_held_when_the_condition_held(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=topic_prefix,
                      data_dir=tmp_path)  # no worker: only the topics
    asyncio.run(ensure_topics(harness.settings))
    topic = harness.settings.input_topic("review")
    text = "Lovely dress. " * 400  # ~5.6 kB: more than one fetch (1 MB a partition) holds
    events = [review(T0 + n, "dress-1", 5, text, event_id=f"r-{n}") for n in range(600)]
    harness.publish("review", events)  # one key: one partition
    messages = harness.read([topic], until=lambda ms: len(ms) >= 1, timeout=30)
    assert sorted(harness.codec.decode(m.value).event["event_id"] for m in messages) == sorted(
        e["event_id"] for e in events)  # all of them (each once), though one was asked for
