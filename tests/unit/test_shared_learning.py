"""Shared learning: three workers, each stepping the customers of its partition and learning
the lessons the others publish, learn what one worker learns alone."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from nextbest.decisions.record import Decision
from nextbest.driver import CustomerPartition, InProcess
from nextbest.engine import Engine, StepResult
from nextbest.identity import IdentityGraph
from nextbest.partitions import partition_of
from nextbest.simulation.model import SimEvent
from nextbest.simulation.shop import Shop

EVENTS = 12_000
RULE_DRIVEN = ("escalation", "support_reply", "service_recovery", "review_request")


class Cluster:
    """``workers`` engines, one partition each, one identity graph; every lesson a worker
    learns reaches the others (through JSON, as through the lesson topic) before the next
    event."""

    def __init__(self, workers: int, *, sharing: bool = True) -> None:
        self.engines = [Engine() for _ in range(workers)]
        for engine in self.engines:
            engine.models.sharing = sharing
        self.partitions = [CustomerPartition(engine) for engine in self.engines]
        self.graph = IdentityGraph({})

    def owner(self, customer_id: str) -> int:
        return partition_of(customer_id, len(self.engines))

    def feed(self, family: str, event: dict[str, Any]) -> list[StepResult]:
        if family == "catalog":
            for engine in self.engines:
                engine.models.update_catalog(event)
            return []
        resolution = self.graph.resolve(event.get("customer"))
        survivor = resolution.customer_id
        results: list[StepResult] = []
        for absorbed in resolution.merged:
            handed = self.partitions[self.owner(absorbed)].merge_out(absorbed, survivor)
            if handed is not None:
                merged = self.partitions[self.owner(survivor)].absorb(survivor, handed)
                results += [merged] if merged is not None else []
        stepped = self.partitions[self.owner(survivor)].step(survivor, family, event)
        assert isinstance(stepped, StepResult | None)
        results += [stepped] if stepped is not None else []
        for partition in self.partitions:
            results += partition.advance(int(event["event_time"]))
        self.exchange()
        return results

    def exchange(self) -> None:
        for n, engine in enumerate(self.engines):
            for lesson in engine.models.take_lessons():
                wire = orjson.loads(orjson.dumps(lesson))
                for m, other in enumerate(self.engines):
                    if m != n:
                        other.models.learn(wire)


def decisions(results: list[StepResult]) -> list[Decision]:
    return [d for r in results for d in r.decisions]


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    # 300 customers over about 120 simulated days: churn labels (90-day horizon) come in.
    shop = Shop(seed=11, customers=300, time_scale=144_000.0, malformed_share=0.0)
    stream = (e for e in shop.events() if isinstance(e, SimEvent))
    events = [*shop.catalog(), *itertools.islice(stream, EVENTS)]
    alone = InProcess(Engine())
    one = [d for e in events for d in decisions(alone.feed(e.family, e.event).results)]
    out: dict[str, Any] = {"one": (one, [alone.engine])}
    for name, sharing in (("shared", True), ("apart", False)):
        cluster = Cluster(3, sharing=sharing)
        made = [d for e in events for d in decisions(cluster.feed(e.family, e.event))]
        out[name] = (made, cluster.engines)
    return out


def test_every_worker_learns_from_every_customer(runs: dict[str, Any]) -> None:
    (_, (alone,)), (_, shared), (_, apart) = runs["one"], runs["shared"], runs["apart"]
    everything = alone.models.recommender.learned
    assert [e.models.recommender.learned for e in shared] == [everything] * 3
    assert sum(e.models.events for e in shared) == alone.models.events  # each counts its own
    assert all(0 < e.models.shared_events < alone.models.events for e in shared)
    assert all(e.models.recommender.learned < everything / 2 for e in apart)  # the audit's bug


def test_rule_driven_decisions_are_the_same(runs: dict[str, Any]) -> None:
    def ruled(made: list[Decision]) -> set[tuple[str, str]]:
        return {(d.decision_type, d.decision_id) for d in made if d.decision_type in RULE_DRIVEN}

    assert ruled(runs["shared"][0]) == ruled(runs["one"][0])


def test_churn_labels_and_decisions_match_one_worker_within_tolerance(
        runs: dict[str, Any]) -> None:
    """Measured: the same 337 churn labels and prequential quality on every worker, and 2 of
    1,147 decisions differing (one cart reminder more, one offer less: the wakes of three
    partitions interleave their lessons in another order than one partition's). Without
    shared learning 49 differ, escalations included."""
    (one, (alone,)), (shared_made, shared) = runs["one"], runs["shared"]
    labels, quality = alone.models.churn.classifier.learnt, alone.models.quality["churn"].quality
    assert labels > 100
    for engine in shared:  # no false "lapsed" labels, none missing
        assert abs(engine.models.churn.classifier.learnt - labels) <= 0.02 * labels
        assert abs(engine.models.quality["churn"].quality - quality) <= 0.01
    differing = {d.decision_id for d in one} ^ {d.decision_id for d in shared_made}
    assert len(differing) <= 0.01 * len(one)
    apart = {d.decision_id for d in one} ^ {d.decision_id for d in runs["apart"][0]}
    assert len(apart) > 3 * max(1, len(differing))
