"""Three workers in one group on the real broker: one is killed mid-stream (SIGKILL), a fourth
joins; the survivors take the dead worker's partitions over from the changelogs, and nothing is
lost or sent twice."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from nextbest.cli.worker_process import WorkerProcess, free_port
from nextbest.simulation.model import SimEvent
from nextbest.simulation.shop import Shop
from nextbest.streams.admin import ensure_topics
from tests.events import MINUTE, order
from tests.integration.harness import Harness
from tests.integration.test_recovery import CUSTOMERS, T0, assert_each_decided_once, scenario

pytestmark = pytest.mark.timeout(600)


def member(harness: Harness, n: int, tmp_path: Path) -> WorkerProcess:
    """Another worker of the harness's group (its own port, member id and data dir)."""
    return WorkerProcess(
        harness.settings.model_copy(update={"web_port": free_port(), "worker_id": f"worker-{n}",
                                            "data_dir": tmp_path / f"worker-{n}"}),
        log_path=tmp_path / f"worker-{n}.log", engine=harness.engine)


def three_workers(kafka: str, redis: str, prefix: str, tmp_path: Path
                  ) -> tuple[Harness, list[WorkerProcess]]:
    """The harness's worker and two more in its group, all running."""
    harness = Harness(kafka=kafka, redis=redis, prefix=prefix, data_dir=tmp_path,
                      worker_id="worker-0")
    harness.start_worker()
    others = [member(harness, 1, tmp_path), member(harness, 2, tmp_path)]
    for worker in others:
        worker.start()
    for worker in others:
        worker.ready()
    return harness, others


def test_one_of_three_killed_and_a_fourth_joining_lose_nothing_and_repeat_nothing(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    harness, others = three_workers(kafka_bootstrap, redis_url, f"nbcluster-{run}", tmp_path)
    fourth = member(harness, 3, tmp_path)
    events = scenario(run)
    # The last quarter of the stream waits until the fourth worker is in.
    joined = threading.Event()
    publisher, _ = harness.publish_in_background(events, pause=0.6, hold=joined)
    try:
        harness.decisions(until=lambda ds: len(ds) >= CUSTOMERS // 3, timeout=90)
        others[0].stop(kill=True)
        harness.decisions(until=lambda ds: len(ds) >= CUSTOMERS * 2 // 3, timeout=90)
        fourth.start()
        fourth.ready()
        joined.set()
        publisher.join()
        decisions = harness.decisions(until=lambda ds: len(ds) >= 2 * CUSTOMERS, timeout=180)
        profiles = [harness.customer(f"email:{run}-{i}@example.com", until=lambda v: True)
                    for i in (0, CUSTOMERS // 2, CUSTOMERS - 1)]
    finally:
        joined.set()
        publisher.join()
        for worker in (*others, fourth):
            worker.stop()
        harness.worker.stop()
    assert_each_decided_once(decisions, run)
    for view in profiles:
        assert (view["profile"]["orders"], view["profile"]["returns"]) == (1, 1)


def test_three_workers_learn_every_customers_events(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    harness, others = three_workers(kafka_bootstrap, redis_url, f"nblearn-{run}", tmp_path)
    try:
        harness.publish("purchase", [order(T0 + i * MINUTE, f"{run}-o{i}", total=20.0,
                                           customer={"email": f"{run}-{i}@example.com"})
                                     for i in range(CUSTOMERS)])
        stats = [harness.models(url=url, timeout=60,
                                until=lambda s: s["learnt"]["recommender"] >= CUSTOMERS)
                 for url in (harness.worker.url, *(w.url for w in others))]
    finally:
        for worker in others:
            worker.stop()
        harness.worker.stop()
    # Each worker stepped its own customers and learnt the others' from their lessons.
    assert [s["learnt"]["recommender"] for s in stats] == [CUSTOMERS] * 3
    assert sum(s["events"] for s in stats) == CUSTOMERS
    assert all(0 < s["events"] < CUSTOMERS for s in stats)


ORDER_SENSITIVE = {"cart_reminder", "next_best_offer"}
"""Decisions that depend on how one customer's events on different input topics interleave
(a purchase before or after the views or the cart it cancels)."""
RULE_REASONS = {"return_defective", "legal_words", "refund_above_limit"}
"""Decisions made by a rule on one event, whatever the models say: service recovery for a
defective return, escalation for legal words or a large refund."""


def shop_traffic(events: int) -> list[tuple[str, dict[str, Any]]]:
    shop = Shop(seed=11, customers=300, time_scale=144_000.0, malformed_share=0.0)
    stream = (e for e in shop.events() if isinstance(e, SimEvent))
    return [(e.family, e.event) for e in (*shop.catalog(), *itertools.islice(stream, events))]


ORDERED = {"identity_order_wait_seconds": 5.0, "customer_order_wait_seconds": 5.0}
"""Waits long enough that a backlog is taken in event-time order (as its replay is)."""


def backlog_through(count: int, traffic: list[tuple[str, dict[str, Any]]], kafka: str,
                    redis: str, prefix: str, tmp_path: Path
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``traffic`` published as a backlog, then ``count`` workers of one group started on it;
    once they stepped all of it, their decisions and their models' statistics."""
    harness = Harness(kafka=kafka, redis=redis, prefix=prefix, data_dir=tmp_path,
                      worker_id="worker-0", **ORDERED)
    asyncio.run(ensure_topics(harness.settings))
    harness.publish_in_order(traffic)
    workers = [harness.worker, *(member(harness, n, tmp_path) for n in range(1, count))]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.ready()
        urls = [worker.url for worker in workers]
        # Every customer event is stepped at least once (some twice: in flight across a
        # merge, or replayed by the next owner of a partition after the group's rebalance).
        expected = sum(1 for family, _ in traffic if family != "catalog")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(map(steps, urls)) < expected:
            time.sleep(0.5)
        assert sum(map(steps, urls)) >= expected
        time.sleep(6)  # the last events held, their wakes, lessons and batches
        decisions = harness.decisions(until=lambda ds: True, timeout=10)
        return decisions, [harness.models(url=url, until=lambda s: True) for url in urls]
    finally:
        for worker in workers:
            worker.stop()


def steps(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics") as response:
        found = re.search(r"^nextbest_engine_step_seconds_count (\S+)$",
                          response.read().decode(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_three_workers_decide_what_one_decides(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    traffic = shop_traffic(4_000)
    run = uuid.uuid4().hex[:8]
    one, (one_stats,) = backlog_through(1, traffic, kafka_bootstrap, redis_url, f"nbone-{run}",
                                        tmp_path / "one")
    three, three_stats = backlog_through(3, traffic, kafka_bootstrap, redis_url,
                                         f"nbthree-{run}", tmp_path / "three")
    learnt = one_stats["learnt"]["recommender"]

    def ruled(made: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["decision_type"], d["causing_event_id"]) for d in made
                if {r["code"] for r in d["reasons"]} & RULE_REASONS}

    def evented(made: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in made if d["decision_type"] not in ORDER_SENSITIVE]

    # One worker takes this backlog (event time 144,000x the wall clock) in event-time order
    # and decides what a replay decides (tests/integration/test_replay_live.py). Three workers
    # each order their own input partitions, and a customer partition wakes by the slowest of
    # them, but it steps the events of different routers as they arrive: a customer's views
    # routed by one worker can be stepped before the purchase another worker is still routing
    # (one worker sent 12 next best offers, three 37; cart reminders likewise). A rule on one
    # event decides the same, event for event, though a customer whose first sighting raced a
    # link through another worker can end with the other customer's id (README, known
    # limits). Decisions that read the models depend on when each worker learnt the others'
    # lessons: their count within a tolerance.
    assert len(ruled(one)) >= 10
    assert ruled(three) == ruled(one)
    assert len(evented(three)) == pytest.approx(len(evented(one)), rel=0.12)
    assert all(s["learnt"]["recommender"] == learnt for s in three_stats)
