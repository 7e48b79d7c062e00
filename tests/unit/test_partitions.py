"""The core's partitioner is Kafka's (the worker keys topics with it; budget pots follow it)."""

from __future__ import annotations

import pickle
import random

from aiokafka.partitioner import murmur2 as kafka_murmur2

from nextbest.guardrails import IncentiveBudget
from nextbest.partitions import murmur2, partition_of
from nextbest.streams.state import PartitionProfiles

DAY = 86_400_000


def test_murmur2_is_the_kafka_clients() -> None:
    rng = random.Random(3)
    for _ in range(5_000):
        data = rng.randbytes(rng.randrange(0, 48))
        assert murmur2(data) == kafka_murmur2(data)


def test_each_pot_is_spent_by_its_own_customers_only() -> None:
    budget = IncentiveBudget(pots=4)
    customers = [f"nb-{n:04d}" for n in range(40)]
    by_pot = {pot: [c for c in customers if partition_of(c, 4) == pot] for pot in range(4)}
    assert all(by_pot.values())
    first, other = by_pot[0][0], by_pot[1][0]
    budget.spend(0, 25.0, first)
    assert budget.left(0, 100.0, by_pot[0][-1]) == 0.0
    assert budget.left(0, 100.0, other) == 25.0
    assert budget.pot_state(0) == {"0": 25.0}
    restored = IncentiveBudget(pots=4)
    restored.restore_pot(0, budget.pot_state(0))
    assert restored.left(DAY - 1, 100.0, first) == 0.0


def test_a_budget_pickled_before_the_pots_reads_as_one_pot() -> None:
    old = IncentiveBudget()
    old.__dict__ = {"spent": {0: 40.0}}  # the shape of a checkpoint from before the pots
    budget = pickle.loads(pickle.dumps(old))
    assert (budget.pots, budget.left(0, 100.0, "anyone")) == (1, 60.0)


def test_partition_records_are_not_profiles() -> None:
    profiles = PartitionProfiles({"@incentive-budget": b'{"0": 1.0}'})
    assert profiles.records == {"@incentive-budget": b'{"0": 1.0}'}
    assert len(profiles) == 0 and profiles.get("@incentive-budget") is None
