"""Growing the customer partitions of a stopped system: every profile is found again on its new
partition, and a worker started with the old count refuses to run."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from nextbest.streams.admin import PartitionsMismatch, ensure_topics
from nextbest.streams.repartition import RepartitionRefused, repartition
from tests.events import DAY, order
from tests.integration.harness import Harness

T0 = 1_767_225_600_000
CUSTOMERS = 40

pytestmark = pytest.mark.timeout(300)


def test_profiles_follow_their_customers_to_the_new_partitions(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    who = [{"email": f"{run}-{i}@example.com"} for i in range(CUSTOMERS)]
    before = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbgrow-{run}",
                     data_dir=tmp_path / "before", partitions=2)
    before.start_worker()
    try:
        before.publish("purchase", [order(T0 + i, f"{run}-a{i}", total=30.0, customer=c)
                                    for i, c in enumerate(who)])
        for c in (who[0], who[-1]):
            before.customer(f"email:{c['email']}", until=lambda v: v["profile"]["orders"] == 1)
        with pytest.raises(RepartitionRefused, match="member"):
            asyncio.run(repartition(before.settings, 4))  # a worker is still running
    finally:
        before.worker.stop()  # a clean stop: the stage is drained and checkpointed

    done = asyncio.run(repartition(before.settings, 4))
    assert (done.partitions_before, done.partitions) == (2, 4)
    assert done.profiles_moved > 0 and done.profiles_moved + done.profiles_kept == CUSTOMERS

    with pytest.raises(PartitionsMismatch):
        asyncio.run(ensure_topics(before.settings))
    after = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbgrow-{run}",
                    data_dir=tmp_path / "after", partitions=4)
    after.start_worker()
    try:
        after.publish("purchase", [order(T0 + DAY + i, f"{run}-b{i}", total=30.0, customer=c)
                                   for i, c in enumerate(who)])
        for c in who:
            view = after.customer(f"email:{c['email']}",
                                  until=lambda v: v["profile"]["orders"] == 2)
            assert view["profile"]["revenue"] == 60.0
    finally:
        after.worker.stop()
