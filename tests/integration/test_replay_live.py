"""The same seeded traffic live on the broker and through ``nextbest replay events --topics``:
the replay reads what the worker read from the input topics and decides as the worker did."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from nextbest.cli.replay_events import read_input_topics
from nextbest.codec import Codec
from nextbest.replay.events import Replayed, replay
from nextbest.settings import EngineSettings
from tests.events import RELAXED
from tests.integration.harness import Harness
from tests.integration.test_cluster import RULE_REASONS, run_through, shop_traffic

pytestmark = pytest.mark.timeout(600)


def test_live_and_replayed_decisions_agree(kafka_bootstrap: str, redis_url: str,
                                           tmp_path: Path) -> None:
    traffic = shop_traffic(4_000)
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url,
                      prefix=f"nbreplay-{uuid.uuid4().hex[:8]}", data_dir=tmp_path)
    harness.start_worker()
    try:
        live, _ = run_through([harness.worker.url], traffic, harness)
    finally:
        harness.worker.stop()
    replayed = Replayed()
    events = asyncio.run(read_input_topics(harness.settings, Codec(), replayed))
    assert len(events) == len(traffic) and not replayed.dead_letters
    again = [r for r in replay(events, EngineSettings(**RELAXED), replayed)
             if r["status"] == "sent"]

    def ruled(made: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["decision_type"], d["causing_event_id"]) for d in made
                if {r["code"] for r in d["reasons"]} & RULE_REASONS}

    # Decisions of a rule on one event are the same, event for event. The rest do not agree
    # yet (README, known limits): on this backlog the worker wakes carts before purchases
    # still unread on another input topic, and which id survives a merge depends on the order
    # the identifiers were first seen in.
    assert len(ruled(live)) >= 10
    assert ruled(again) == ruled(live)
