"""``nextbest bench --engine``: the engine core's cost per event with and without its models.

No Kafka: the simulated shop's events go through the same loop the worker runs
(:class:`nextbest.driver.InProcess`: identity resolution, merges, ``Engine.step``, the agenda and
the wakes it triggers) in one process, twice - once with the online models, once with models
that learn and say nothing (the rules alone) - so the models' share of the per-event cost shows
as a ratio from the same run.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from nextbest.driver import InProcess
from nextbest.engine import Engine
from nextbest.models.recommend import Recommendation
from nextbest.models.suite import ModelSuite, Observation
from nextbest.profile.state import CustomerProfile
from nextbest.simulation.model import SimEvent
from nextbest.simulation.shop import Shop


class SilentModels(ModelSuite):
    """The baseline: no learning, no scores, no recommendations."""

    def observe(self, profile: CustomerProfile, family: str, event: dict[str, Any]
                ) -> Observation:
        return Observation()

    def rescore(self, profile: CustomerProfile, now: int) -> None:
        return None

    def recommend(self, profile: CustomerProfile, k: int, *, context: list[str] | None = None,
                  visit: Sequence[str] = ()) -> list[Recommendation]:
        return []


def shop_events(events: int, seed: int) -> list[SimEvent]:
    shop = Shop(seed=seed, customers=2_000, malformed_share=0.0)
    stream = (e for e in shop.events() if isinstance(e, SimEvent))
    return [*shop.catalog(), *itertools.islice(stream, events)]


def run_engine(engine: Engine, events: list[SimEvent]) -> dict[str, float]:
    loop = InProcess(engine)
    stepped = decisions = 0
    started = time.perf_counter()
    for sim in events:
        results = loop.feed(sim.family, sim.event).results
        if sim.family != "catalog":
            stepped += 1
        decisions += sum(len(r.decisions) for r in results)
    seconds = time.perf_counter() - started
    return {"events": stepped, "decisions": decisions,
            "us_per_event": round(seconds / max(1, stepped) * 1e6, 1)}


def engine_bench(events: int = 20_000, seed: int = 11) -> dict[str, Any]:
    stream = shop_events(events, seed)
    rules = run_engine(Engine(models=SilentModels()), stream)
    engine = Engine()
    models = run_engine(engine, stream)
    return {
        "events": models["events"],
        "rules_only_us_per_event": rules["us_per_event"],
        "with_models_us_per_event": models["us_per_event"],
        "ratio": round(models["us_per_event"] / rules["us_per_event"], 2),
        "decisions": {"rules_only": rules["decisions"], "with_models": models["decisions"]},
        "model_cost_us": engine.models.stats()["cost_us"],
    }
