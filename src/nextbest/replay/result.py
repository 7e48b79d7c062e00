"""The shape of a replay's outcome and the dataset registry."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# dataset name -> module under nextbest.replay exposing ``replay(seed) -> ReplayResult``
DATASETS: dict[str, str] = {
    "movielens": "nextbest.replay.movielens",
    "cdnow": "nextbest.replay.cdnow",
    "reviews": "nextbest.replay.reviews",
}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """nextbest's figure on a dataset next to the anchors', from one run."""

    dataset: str
    metric: str
    nextbest: float
    anchors: dict[str, float]
    events: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The one JSON object ``nextbest replay --json`` prints."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "metric": self.metric,
            "nextbest": round(self.nextbest, 4),
            "anchors": {name: round(value, 4) for name, value in self.anchors.items()},
            "events": self.events,
            "seconds": round(self.seconds, 1),
        }
        if self.extra:
            out["extra"] = self.extra
        return out

    def table(self) -> str:
        """A side-by-side text table, nextbest first."""
        rows = [("nextbest", self.nextbest), *self.anchors.items()]
        width = max(len(name) for name, _ in rows)
        lines = [f"{self.dataset}: {self.metric} over {self.events:,} events "
                 f"in {self.seconds:.1f} s"]
        lines += [f"  {name:<{width}}  {value:.4f}" for name, value in rows]
        lines += [f"  {key}: {value}" for key, value in self.extra.items()]
        return "\n".join(lines)


def run_replay(dataset: str, *, seed: int = 7) -> ReplayResult:
    """Run one dataset's replay, timing it end to end."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    try:
        module = importlib.import_module(DATASETS[dataset])
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"replay needs the optional 'bench' extra ({exc.name} is missing): "
            "pip install 'nextbest[bench]'"
        ) from exc
    replay: Callable[..., ReplayResult] = module.replay
    started = time.perf_counter()
    result = replay(seed=seed)
    return ReplayResult(
        dataset=result.dataset, metric=result.metric, nextbest=result.nextbest,
        anchors=result.anchors, events=result.events,
        seconds=time.perf_counter() - started, extra=result.extra,
    )
