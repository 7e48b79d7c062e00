"""Online blend of the lexicon prior and the learned text model.

A stacked logistic regression over ``[1, text_logit, lexicon]`` learns, one labelled text at
a time, how much to trust each source. It is trained on the text model's prediction *before*
that model learns the same text, so the blend never sees in-sample scores. It starts as the
lexicon alone (``lexicon_weight`` times the compound score); the two source weights are kept
non-negative (a source is trusted or ignored, never inverted). Its output is ramped in with
``n / (n + ramp)`` over the pure prior, which keeps the first noisy steps of the blend out
of the score; that ramp is the reported ``learned_weight``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


class LexiconBlend:
    """Stacked online logistic blend of a lexicon score and a learned logit."""

    def __init__(
        self, lexicon_weight: float = 2.0, learning_rate: float = 1.0, ramp: float = 50.0
    ) -> None:
        self.lexicon_weight = lexicon_weight
        self.learning_rate = learning_rate
        self.ramp = ramp
        # weights over [bias, text logit, lexicon compound]
        self.coef: npt.NDArray[np.float64] = np.array([0.0, 0.0, lexicon_weight])
        # AdaGrad sums start at 1 so the first steps scale with the gradient
        self.grad_sq: npt.NDArray[np.float64] = np.ones(3)
        self.n_learned = 0

    @property
    def learned_weight(self) -> float:
        """Share of the score taken from the learned blend, ``n / (n + ramp)``."""
        n = self.n_learned
        return n / (n + self.ramp) if self.ramp > 0 else 1.0

    def stacked_logit(self, text_logit: float, lexicon: float) -> float:
        """The blend's own log-odds, before the ramp."""
        c = self.coef
        return float(c[0] + c[1] * text_logit + c[2] * lexicon)

    def logit(self, text_logit: float, lexicon: float) -> float:
        """Log-odds of the positive class: prior ramped into the learned blend."""
        lam = self.learned_weight
        prior = self.lexicon_weight * lexicon
        return (1.0 - lam) * prior + lam * self.stacked_logit(text_logit, lexicon)

    def learn(self, text_logit: float, lexicon: float, positive: bool) -> None:
        """One AdaGrad step of the stacked blend on the log loss."""
        z = max(-35.0, min(35.0, self.stacked_logit(text_logit, lexicon)))
        g = 1.0 / (1.0 + math.exp(-z)) - (1.0 if positive else 0.0)
        grad = g * np.array([1.0, text_logit, lexicon])
        self.grad_sq += grad * grad
        self.coef -= self.learning_rate * grad / np.sqrt(self.grad_sq)
        np.maximum(self.coef[1:], 0.0, out=self.coef[1:])  # non-negative source weights
        self.n_learned += 1
