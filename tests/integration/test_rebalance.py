"""A second worker joins the group mid-stream: the partitions it takes over are checkpointed by
the first worker and restored by the second, and nothing is lost or sent twice."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from nextbest.cli.worker_process import WorkerProcess, free_port
from tests.integration.harness import Harness
from tests.integration.test_recovery import CUSTOMERS, assert_each_decided_once, scenario

pytestmark = pytest.mark.timeout(600)


def test_a_worker_joining_mid_stream_loses_nothing_and_repeats_nothing(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbjoin-{run}",
                      data_dir=tmp_path, worker_id="worker-0")
    harness.start_worker()
    events = scenario(run)
    # The last quarter of the stream waits until the second worker is in.
    joined = threading.Event()
    publisher, _ = harness.publish_in_background(events, pause=0.5, hold=joined)
    second = WorkerProcess(
        harness.settings.model_copy(update={"web_port": free_port(), "worker_id": "worker-1",
                                            "data_dir": tmp_path / "second"}),
        log_path=tmp_path / "second.log", engine=harness.engine)
    try:
        harness.decisions(until=lambda ds: len(ds) >= 10, timeout=90)
        second.start()
        second.ready()
        joined.set()
        publisher.join()
        decisions = harness.decisions(until=lambda ds: len(ds) >= 2 * CUSTOMERS, timeout=120)
    finally:
        joined.set()
        publisher.join()
        second.stop()
        harness.worker.stop()
    assert_each_decided_once(decisions, run)
