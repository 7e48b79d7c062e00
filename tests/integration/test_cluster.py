"""Three workers in one group on the real broker: one is killed mid-stream (SIGKILL), a fourth
joins; the survivors take the dead worker's partitions over from the changelogs, and nothing is
lost or sent twice."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from nextbest.cli.worker_process import WorkerProcess, free_port
from nextbest.identity.graph import new_customer_id
from tests.integration.harness import Harness
from tests.integration.test_recovery import CUSTOMERS, scenario

pytestmark = pytest.mark.timeout(600)


def member(harness: Harness, n: int, tmp_path: Path) -> WorkerProcess:
    """Another worker of the harness's group (its own port, member id and data dir)."""
    return WorkerProcess(
        harness.settings.model_copy(update={"web_port": free_port(), "worker_id": f"worker-{n}",
                                            "data_dir": tmp_path / f"worker-{n}"}),
        log_path=tmp_path / f"worker-{n}.log", engine=harness.engine)


def test_one_of_three_killed_and_a_fourth_joining_lose_nothing_and_repeat_nothing(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbcluster-{run}",
                      data_dir=tmp_path, worker_id="worker-0")
    harness.start_worker()
    others = [member(harness, 1, tmp_path), member(harness, 2, tmp_path)]
    fourth = member(harness, 3, tmp_path)
    for worker in others:
        worker.start()
    for worker in others:
        worker.ready()
    events = scenario(run)
    publisher, published = harness.publish_in_background(events, pause=0.6)
    try:
        harness.decisions(until=lambda ds: len(ds) >= CUSTOMERS // 3, timeout=90)
        others[0].stop(kill=True)
        harness.decisions(until=lambda ds: len(ds) >= CUSTOMERS * 2 // 3, timeout=90)
        fourth.start()
        fourth.ready()
        assert not published.is_set(), "the stream ended before the fourth worker joined"
        publisher.join()
        decisions = harness.decisions(until=lambda ds: len(ds) >= 2 * CUSTOMERS, timeout=180)
        profiles = [harness.customer(f"email:{run}-{i}@example.com", until=lambda v: True)
                    for i in (0, CUSTOMERS // 2, CUSTOMERS - 1)]
    finally:
        publisher.join()
        for worker in (*others, fourth):
            worker.stop()
        harness.worker.stop()
    ids = Counter(d["decision_id"] for d in decisions)
    assert [i for i, n in ids.items() if n > 1] == []
    decided = {(d["decision_type"], d["customer_id"]) for d in decisions}
    missing = [i for i in range(CUSTOMERS)
               for kind in ("service_recovery", "escalation")
               if (kind, new_customer_id(f"email:{run}-{i}@example.com")) not in decided]
    assert missing == []
    for view in profiles:
        assert (view["profile"]["orders"], view["profile"]["returns"]) == (1, 1)
