"""Crash recovery: a worker killed mid-stream (SIGKILL) and replaced by one without its local
state resumes from the changelog topics, counts nothing twice and sends no decision twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nextbest.identity.graph import new_customer_id
from tests.events import DAY, MINUTE, click, order, support
from tests.integration.harness import Harness

T0 = 1_767_225_600_000
CUSTOMERS = 150

pytestmark = pytest.mark.timeout(600)


def scenario(run: str) -> list[tuple[str, dict]]:
    """Per customer: an order, a defective return, a support message with a legal word - with
    browsing in between so the stream is long enough to be killed in the middle."""
    events: list[tuple[str, dict]] = []
    for i in range(CUSTOMERS):
        who = {"email": f"{run}-{i}@example.com"}
        t = T0 + i * MINUTE
        events.append(("purchase", order(t, f"{run}-o{i}", total=40.0 + i, customer=who)))
        events.extend(("clickstream", click(t + k, "page_view", customer=who)) for k in range(8))
        events.append(("purchase", order(t + DAY, f"{run}-o{i}", total=40.0 + i, customer=who,
                                         kind="return", reason="defective")))
        events.append(("support", support(t + DAY + 1, f"{run}-c{i}", "my lawyer will call",
                                          customer=who)))
    return events


def assert_each_decided_once(decisions: list[dict[str, Any]], run: str) -> None:
    """No decision sent twice, and every customer of ``scenario(run)`` got both of theirs."""
    ids = Counter(d["decision_id"] for d in decisions)
    assert [i for i, n in ids.items() if n > 1] == []
    decided = {(d["decision_type"], d["customer_id"]) for d in decisions}
    missing = [i for i in range(CUSTOMERS)
               for kind in ("service_recovery", "escalation")
               if (kind, new_customer_id(f"email:{run}-{i}@example.com")) not in decided]
    assert missing == []


@dataclass
class Outcome:
    decisions: list[dict[str, Any]]
    profiles: dict[int, dict[str, Any]]
    customer_ids: list[str]


@pytest.fixture(scope="module")
def crashed(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Outcome]:
    run = uuid.uuid4().hex[:8]
    tmp_path = Path(tmp_path_factory.mktemp("crash"))
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbcrash-{run}",
                      data_dir=tmp_path, worker_id="worker-0")
    harness.start_worker()
    events = scenario(run)
    # ~160 events/s; the last quarter waits until the replacement runs.
    restarted = threading.Event()
    publisher, _ = harness.publish_in_background(events, pause=0.3, hold=restarted)
    try:
        # Kill once the worker has produced some decisions but not all, and has checkpointed
        # some: the replacement restores that state from the changelog and replays the rest.
        harness.decisions(until=lambda ds: len(ds) >= CUSTOMERS // 2, timeout=90)
        time.sleep(harness.settings.commit_interval_seconds + 0.5)
        harness.worker.stop(kill=True)
        harness.restart_worker_without_local_state(tmp_path / "replacement")
    finally:
        restarted.set()
        publisher.join()
    try:
        decisions = harness.decisions(until=lambda ds: len(ds) >= 2 * CUSTOMERS, timeout=120)
        # One more order each: what the replacement adds to must be the restored profile (the
        # view in Redis alone would still show what the killed worker wrote).
        sampled = (0, CUSTOMERS // 2, CUSTOMERS - 1)
        harness.publish("purchase", [
            order(T0 + 2 * DAY + i, f"{run}-again{i}", total=10.0,
                  customer={"email": f"{run}-{i}@example.com"}) for i in sampled])
        profiles = {}
        for i in sampled:
            view = harness.customer(f"email:{run}-{i}@example.com",
                                    until=lambda v: v["profile"]["orders"] != 1)
            profiles[i] = view["profile"]
        customer_ids = [new_customer_id(f"email:{run}-{i}@example.com") for i in range(CUSTOMERS)]
        yield Outcome(decisions, profiles, customer_ids)
    finally:
        harness.worker.stop()


def test_no_decision_is_sent_twice(crashed: Outcome) -> None:
    ids = Counter(d["decision_id"] for d in crashed.decisions)
    assert ids and [i for i, n in ids.items() if n > 1] == []


def test_restored_state_counts_nothing_twice(crashed: Outcome) -> None:
    for profile in crashed.profiles.values():
        assert profile["orders"] <= 2 and profile["returns"] <= 1
        assert len(profile["support_contacts"]) <= 1


def test_no_input_is_lost_across_the_crash(crashed: Outcome) -> None:
    missing = {
        kind: [i for i, customer in enumerate(crashed.customer_ids)
               if customer not in {d["customer_id"] for d in crashed.decisions
                                   if d["decision_type"] == kind}]
        for kind in ("service_recovery", "escalation")
    }
    assert missing == {"service_recovery": [], "escalation": []}
    assert Counter(d["decision_type"] for d in crashed.decisions) == {
        "service_recovery": CUSTOMERS, "escalation": CUSTOMERS}
    for profile in crashed.profiles.values():  # the first order and return, and one more
        assert (profile["orders"], profile["returns"]) == (2, 1)
