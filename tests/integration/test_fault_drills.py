"""Fault drills on a real broker and Redis of their own (stopped and started by the drills; the
session's shared ones are left alone).

Each drill injects one fault while traffic flows and asserts that every input event was stepped
or dead-lettered, that no decision was sent twice and that the worker is healthy afterwards.
The figures each drill measured are logged (``-o log_cli=true`` shows them) and quoted in
RELIABILITY.md.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.events import click
from tests.integration.drills import (
    T0,
    GatedPublisher,
    Restartable,
    Stream,
    assert_accounted,
    escalated,
    everyone_escalated,
    healthy,
)
from tests.integration.harness import Harness

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(900)

OUTAGE_SECONDS = 60.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    kafka = Restartable("kafka", Path(tmp_path_factory.mktemp("drill-kafka")))
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def drill(broker: Restartable, redis: str, tmp_path: Path, **overrides: object
          ) -> tuple[Harness, Stream]:
    run = uuid.uuid4().hex[:8]
    harness = Harness(kafka=broker.address, redis=redis, prefix=f"nbdrill-{run}",
                      data_dir=tmp_path, worker_id="drill-0", **overrides)
    return harness, Stream(run, customers=120, malformed=5)


def broker_outage(broker: Restartable, redis: str, tmp_path: Path, seconds: float) -> None:
    """The broker taken away for ``seconds`` (0: a restart) while traffic flows; then every
    event accounted for and the worker healthy."""
    harness, stream = drill(broker, redis, tmp_path)
    harness.start_worker()
    try:
        harness.publish("purchase", [], raw=stream.bad_messages())
        publisher = GatedPublisher(harness.publish, stream.events(), pause=0.2).start()
        harness.decisions(until=lambda ds: len(ds) >= 20, timeout=90)
        publisher.hold()
        broker.outage(seconds)
        assert harness.worker.process is not None and harness.worker.process.poll() is None, (
            "the worker gave up while the broker was down")
        back = time.monotonic()
        publisher.resume()
        publisher.join()
        decisions = harness.decisions(until=everyone_escalated(stream), timeout=180)
        logger.info("broker down %.1f s; all %d customers decided %.1f s after it was back",
                    broker.downtime, stream.customers, time.monotonic() - back)
        assert_accounted(stream, decisions, harness.deadletters(count=stream.malformed))
        assert healthy(harness.worker.url)
    finally:
        harness.worker.stop()


def test_broker_restart_mid_stream(broker: Restartable, redis_url: str, tmp_path: Path) -> None:
    broker_outage(broker, redis_url, tmp_path, 0.0)  # stopped and started again at once


def test_broker_down_for_a_minute(broker: Restartable, redis_url: str, tmp_path: Path) -> None:
    broker_outage(broker, redis_url, tmp_path, OUTAGE_SECONDS)


def test_sigterm_while_the_broker_is_down(broker: Restartable, redis_url: str,
                                          tmp_path: Path) -> None:
    """The worker exits within 10 s; the next one replays what it had not committed."""
    harness, stream = drill(broker, redis_url, tmp_path)
    harness.start_worker()
    half = stream.customers // 2
    try:
        harness.publish("purchase", [], raw=stream.bad_messages())
        GatedPublisher(harness.publish, stream.events(0, half), pause=0.0).start().join()
        harness.decisions(until=lambda ds: len(ds) >= half // 2, timeout=90)
        broker.stop()
        process = harness.worker.process
        assert process is not None
        began = time.monotonic()
        harness.worker.stop(timeout=30.0)  # SIGTERM, SIGKILL after 30 s
        exited_after = time.monotonic() - began
        logger.info("worker exited %.1f s after SIGTERM with the broker down (code %s)",
                    exited_after, process.returncode)
        assert exited_after <= 10.0
        assert process.returncode is not None and process.returncode >= 0, "it had to be killed"
    finally:
        harness.worker.stop(kill=True)
        if broker.service is None:
            broker.start()
    harness.restart_worker_without_local_state(tmp_path / "next")
    try:
        GatedPublisher(harness.publish, stream.events(half), pause=0.0).start().join()
        decisions = harness.decisions(until=everyone_escalated(stream), timeout=180)
        assert_accounted(stream, decisions, harness.deadletters(count=stream.malformed))
        assert healthy(harness.worker.url)
    finally:
        harness.worker.stop()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_redis_down_for_a_minute(broker: Restartable, tmp_path: Path) -> None:
    """Decisions flow while Redis is away; what waits for it stays bounded; the warnings back
    off; Redis catches up once it is back."""
    redis = Restartable("redis", tmp_path / "redis")
    redis.start()
    harness, stream = drill(broker, redis.address, tmp_path)
    try:
        harness.start_worker()
        process = harness.worker.process
        assert process is not None
        harness.publish("purchase", [], raw=stream.bad_messages())
        publisher = GatedPublisher(harness.publish, stream.events(), pause=0.6).start()
        harness.decisions(until=lambda ds: len(ds) >= 10, timeout=90)
        log_before = harness.worker.log_path.read_text().count("\n")
        rss_before = rss_mib(process.pid)
        seen: dict[str, float] = {}

        def while_down() -> None:
            decisions = harness.decisions(until=everyone_escalated(stream), timeout=50)
            seen["decided"] = len(escalated(decisions))
            time.sleep(5)  # flushes fail and back off meanwhile
            seen["pending"] = metric(harness.metrics(), "nextbest_redis_pending_writes")
            seen["rss"] = rss_mib(process.pid)

        redis.outage(OUTAGE_SECONDS, during=while_down)
        publisher.join()
        logged = harness.worker.log_path.read_text().splitlines()[log_before:]
        logger.info("Redis down %.0f s: %d of %d customers decided meanwhile; %.0f writes "
                    "waiting, RSS %.0f -> %.0f MiB; %d log lines", redis.downtime,
                    seen["decided"], stream.customers, seen["pending"], rss_before, seen["rss"],
                    len(logged))
        assert seen["decided"] == stream.customers
        # Bounded: per customer one profile, at most 20 decisions and 20 events, one identifier.
        assert 0 < seen["pending"] <= stream.customers * 42
        assert seen["rss"] - rss_before < 100
        assert len([line for line in logged if "redis_flush failed" in line]) <= 10
        assert len(logged) <= 60, "\n".join(logged[:80])
        # Restarted without its data: the worker finds out at its next flush and writes every
        # view again (streams/refill.py).
        for i in (0, stream.customers // 2, stream.customers - 1):
            harness.customer(f"email:{stream.email(i)}", until=lambda v: v["profile"]["orders"]
                             == 1, timeout=60)
        decisions = harness.decisions(until=everyone_escalated(stream), timeout=60)
        assert_accounted(stream, decisions, harness.deadletters(count=stream.malformed))
        assert healthy(harness.worker.url)
    finally:
        harness.worker.stop()
        redis.stop()


def test_an_event_that_makes_the_engine_raise(broker: Restartable, redis_url: str,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Dead-lettered as internal_error; its neighbours are stepped; the worker goes on."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent / "faults"))
    monkeypatch.setenv("NEXTBEST_DRILL_RAISE_ON", "poison")
    harness, stream = drill(broker, redis_url, tmp_path)
    poisoned = [click(T0 + i, "page_view", customer={"email": stream.email(i)},
                      event_id=f"poison-{i}") for i in range(0, stream.customers, 10)]
    events = stream.events()
    for n, event in enumerate(poisoned):  # in the middle of everyone else's events
        events.insert(len(events) * (n + 1) // (len(poisoned) + 1), ("clickstream", event))
    harness.start_worker()
    try:
        harness.publish("purchase", [], raw=stream.bad_messages())
        GatedPublisher(harness.publish, events, pause=0.0, chunk=200).start().join()
        decisions = harness.decisions(until=everyone_escalated(stream), timeout=120)
        letters = harness.deadletters(count=stream.malformed + len(poisoned))
        reasons = Counter(dict(m.headers).get("nextbest.dlq.reason", b"").decode()
                          for m in letters)
        assert reasons["internal_error"] == len(poisoned)
        assert_accounted(stream, decisions, [m for m in letters
                                             if dict(m.headers)["nextbest.dlq.reason"]
                                             != b"internal_error"])
        assert healthy(harness.worker.url)
        assert harness.worker.process is not None and harness.worker.process.poll() is None
    finally:
        harness.worker.stop()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")
