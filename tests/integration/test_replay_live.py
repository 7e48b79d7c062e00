"""The same seeded traffic live on the broker and through ``nextbest replay events --topics``:
a worker that starts on a backlog of the input topics takes it in event-time order across its
partitions (``streams/reorder.py``), events behind one waiting for the identity writer
included (``NEXTBEST_IDENTITY_ORDER_WAIT_SECONDS``), and decides what the replay decides."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nextbest.cli.replay_events import read_input_topics
from nextbest.codec import Codec
from nextbest.replay.events import Replayed, replay
from nextbest.settings import EngineSettings
from nextbest.streams.admin import ensure_topics
from tests.events import RELAXED
from tests.integration.harness import Harness
from tests.integration.test_cluster import shop_traffic, steps

pytestmark = pytest.mark.timeout(600)


def test_a_backlog_live_decides_what_its_replay_decides(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    traffic = shop_traffic(4_000)
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url,
                      prefix=f"nbreplay-{uuid.uuid4().hex[:8]}", data_dir=tmp_path,
                      identity_order_wait_seconds=5.0, reorder_max_wait_seconds=5.0)
    asyncio.run(ensure_topics(harness.settings))
    harness.publish_in_order(traffic)
    harness.start_worker()
    try:
        expected = sum(1 for family, _ in traffic if family != "catalog")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and steps(harness.worker.url) < expected:
            time.sleep(0.5)
        assert steps(harness.worker.url) >= expected
        time.sleep(2)  # the wakes of the last events, the last decisions' batches
        live = harness.decisions(until=lambda ds: True, timeout=10)
        logged = harness.logged(until=lambda ds: True, timeout=10)
    finally:
        harness.worker.stop()
    replayed = Replayed()
    events = asyncio.run(read_input_topics(harness.settings, Codec(), replayed))
    assert len(events) == len(traffic) and not replayed.dead_letters
    again = list(replay(events, EngineSettings(**RELAXED), replayed))

    def made(decisions: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
        return Counter((d["decision_id"], d["status"]) for d in decisions)

    # Every decision, sent or not, with its verdict: the same, one for one.
    assert sum(made(logged).values()) >= 200
    assert made(logged) == made(again)
    assert {d["decision_id"] for d in live} == {
        d["decision_id"] for d in again if d["status"] == "sent"}
