"""Online lapse classifier: logistic regression on standardised features.

Before it has learnt enough it blends towards a rule-of-thumb prior, so it can
score from the first event. Calibration is measured prequentially: every label
is compared with the probability predicted when its snapshot was taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nextbest.models.churn.linear import OnlineGLM


@dataclass(slots=True)
class Calibration:
    """Prequential Brier score, log loss and reliability bins of predicted probabilities."""

    bins: int = 10
    n: int = 0
    brier_sum: float = 0.0
    log_loss_sum: float = 0.0
    predicted: list[float] = field(default_factory=list)
    observed: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.counts:
            self.predicted = [0.0] * self.bins
            self.observed = [0.0] * self.bins
            self.counts = [0] * self.bins

    def update(self, probability: float, outcome: bool) -> None:
        p = min(1.0 - 1e-12, max(1e-12, probability))
        y = 1.0 if outcome else 0.0
        self.n += 1
        self.brier_sum += (p - y) ** 2
        self.log_loss_sum -= y * math.log(p) + (1.0 - y) * math.log(1.0 - p)
        i = min(self.bins - 1, int(p * self.bins))
        self.predicted[i] += p
        self.observed[i] += y
        self.counts[i] += 1

    @property
    def brier(self) -> float:
        return self.brier_sum / self.n if self.n else float("nan")

    @property
    def log_loss(self) -> float:
        return self.log_loss_sum / self.n if self.n else float("nan")

    @property
    def base_rate(self) -> float:
        return sum(self.observed) / self.n if self.n else float("nan")

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted |mean predicted - observed rate|."""
        if not self.n:
            return float("nan")
        gaps = (abs(p - o) for p, o in zip(self.predicted, self.observed, strict=True))
        return sum(gaps) / self.n

    def reliability(self) -> list[tuple[float, float, int]]:
        """Per non-empty bin: (mean predicted, observed rate, count)."""
        return [
            (p / c, o / c, c)
            for p, o, c in zip(self.predicted, self.observed, self.counts, strict=True)
            if c
        ]

    def summary(self) -> dict[str, float]:
        return {
            "n": self.n, "brier": round(self.brier, 4), "log_loss": round(self.log_loss, 4),
            "ece": round(self.ece, 4), "base_rate": round(self.base_rate, 4),
        }


class LapseClassifier:
    """P(no purchase within the horizon | standardised features), learnt one label at a time."""

    def __init__(
        self, *, learning_rate: float = 0.005, window: int = 2_000, warmup: int = 200
    ) -> None:
        self.model = OnlineGLM("logit", learning_rate=learning_rate, window=window)
        self.warmup = warmup
        self.learnt = 0
        self.calibration = Calibration()

    def predict(self, z: dict[str, float], prior: float) -> float:
        """The lapse probability, blended with ``prior`` while few labels are learnt."""
        if self.learnt == 0:
            return prior
        p = self.model.predict(z)
        w = self.learnt / (self.learnt + self.warmup)
        return w * p + (1.0 - w) * prior

    def learn(self, z: dict[str, float], lapsed: bool, predicted: float | None = None) -> None:
        """Learn one label; ``predicted`` (the score given at snapshot time) feeds calibration."""
        if predicted is not None:
            self.calibration.update(predicted, lapsed)
        self.model.learn(z, 1.0 if lapsed else 0.0)
        self.learnt += 1
