"""A small online generalised linear model: SGD with clipped gradients and averaged weights.

Learning takes plain SGD steps; predictions use the exponential moving average of
the SGD iterates (a running mean over the first ``window`` steps), which removes
most of the step-to-step noise of a constant learning rate while still following
drift. Inputs are expected standardised (see ``features.Standardiser``).
"""

from __future__ import annotations

import math
from typing import Literal

MAX_RAW = 30.0  # guard on the linear predictor (logit or log count)


class OnlineGLM:
    """Logistic (``link='logit'``) or Poisson (``link='log'``) regression learnt online."""

    def __init__(
        self,
        link: Literal["logit", "log"],
        *,
        learning_rate: float,
        l2: float = 1e-5,
        clip: float = 5.0,
        window: int = 2_000,
    ) -> None:
        self.link = link
        self.learning_rate = learning_rate
        self.l2 = l2
        self.clip = clip
        self.window = window
        self.weights: dict[str, float] = {}
        self.intercept = 0.0
        self.averaged: dict[str, float] = {}
        self.averaged_intercept = 0.0
        self.steps = 0

    @staticmethod
    def _dot(weights: dict[str, float], intercept: float, z: dict[str, float]) -> float:
        raw = intercept + sum(weights[k] * v for k, v in z.items() if k in weights)
        return max(-MAX_RAW, min(MAX_RAW, raw))

    def _mean(self, raw: float) -> float:
        return 1.0 / (1.0 + math.exp(-raw)) if self.link == "logit" else math.exp(raw)

    def predict(self, z: dict[str, float]) -> float:
        """Probability (logit link) or expected count (log link) from the averaged weights."""
        return self._mean(self._dot(self.averaged, self.averaged_intercept, z))

    def learn(self, z: dict[str, float], y: float) -> None:
        """One SGD step on the log-likelihood, then update the weight average."""
        g = self._mean(self._dot(self.weights, self.intercept, z)) - y
        g = max(-self.clip, min(self.clip, g))
        lr, l2, w = self.learning_rate, self.l2, self.weights
        for k, v in z.items():
            wk = w.get(k, 0.0)
            w[k] = wk - lr * (g * v + l2 * wk)
        self.intercept -= lr * g
        self.steps += 1
        a = 1.0 / min(self.steps, self.window)
        avg = self.averaged
        for k, wk in w.items():
            ak = avg.get(k, 0.0)
            avg[k] = ak + a * (wk - ak)
        self.averaged_intercept += a * (self.intercept - self.averaged_intercept)
