"""Online text classifier: hashed unigrams + bigrams, logistic regression with AdaGrad.

Text is lower-cased, HTML tags (``<br />``) are dropped, and the up to ``NEGATION_SCOPE``
words after a negator ("not", "never", "don't", ...) are prefixed with ``not_`` until the
next punctuation mark, so "not good" and "good" are different features. "!" and "?" are
kept as tokens. Unigrams and bigrams are hashed (CRC-32, stable across processes) into a
fixed number of buckets, so memory and checkpoint size are bounded whatever the vocabulary.
Each text is a binary bag of buckets scaled to unit L2 norm. Weights learn with per-bucket
AdaGrad, one pass, one text at a time.
"""

from __future__ import annotations

import math
import re
import zlib
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

NEGATION_SCOPE = 3
NEGATORS = frozenset({
    "not", "no", "never", "nothing", "nobody", "none", "nor", "neither", "cannot",
    "without", "hardly",
})
_TAG = re.compile(r"<[^>]*>")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.!?;:,]")
_BREAKS = frozenset(".!?;:,")
_KEPT_PUNCT = frozenset("!?")

Indices = npt.NDArray[np.int64]
_EPS = np.float32(1e-7)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with negation marking; "!" and "?" kept.

    >>> tokens("Not good at all. <br />Great price!")
    ['not', 'not_good', 'not_at', 'not_all', 'great', 'price', '!']
    """
    text = _TAG.sub(" ", text.lower()).replace("\u2019", "'")
    out: list[str] = []
    scope = 0
    for tok in _TOKEN.findall(text):
        if tok in _BREAKS:
            scope = 0
            if tok in _KEPT_PUNCT:
                out.append(tok)
        elif tok in NEGATORS or tok.endswith("n't"):
            out.append(tok)
            scope = NEGATION_SCOPE
        elif scope:
            out.append("not_" + tok)
            scope -= 1
        else:
            out.append(tok)
    return out


def hashed_features(text: str, n_features: int) -> Indices:
    """Sorted distinct bucket indices of the text's unigrams and bigrams."""
    toks = tokens(text)
    grams = set(toks)
    grams.update(f"{a} {b}" for a, b in pairwise(toks))
    buckets = np.fromiter(
        (zlib.crc32(g.encode()) % n_features for g in grams), dtype=np.int64, count=len(grams)
    )
    return np.unique(buckets)


def _sigmoid(z: float) -> float:
    z = max(-35.0, min(35.0, z))
    return 1.0 / (1.0 + math.exp(-z))


class HashedLogisticRegression:
    """Binary logistic regression over hashed buckets, trained online with AdaGrad.

    Weights and squared-gradient sums are dense float32 arrays of ``n_features`` (bounded
    memory); a pickle stores only the buckets that have been touched.
    """

    def __init__(self, n_features: int = 2**18, learning_rate: float = 0.2) -> None:
        if n_features < 2:
            raise ValueError("n_features must be at least 2")
        self.n_features = n_features
        self.learning_rate = learning_rate
        self.weights = np.zeros(n_features, dtype=np.float32)
        self.grad_sq = np.zeros(n_features, dtype=np.float32)
        self.bias = 0.0
        self.bias_grad_sq = 0.0
        self.n_learned = 0

    @staticmethod
    def _value(idx: Indices) -> float:
        return 1.0 / math.sqrt(len(idx)) if len(idx) else 0.0

    def logit(self, idx: Indices) -> float:
        """Log-odds of the positive class for a text's buckets."""
        if not len(idx):
            return self.bias
        return float(self.weights[idx].sum(dtype=np.float64)) * self._value(idx) + self.bias

    def learn(self, idx: Indices, positive: bool) -> None:
        """One AdaGrad step on the log loss."""
        g = _sigmoid(self.logit(idx)) - (1.0 if positive else 0.0)
        lr = self.learning_rate
        if len(idx):
            gi = np.float32(g * self._value(idx))
            self.grad_sq[idx] += gi * gi
            self.weights[idx] -= lr * gi / (np.sqrt(self.grad_sq[idx]) + _EPS)
        self.bias_grad_sq += g * g
        if self.bias_grad_sq > 0.0:
            self.bias -= lr * g / math.sqrt(self.bias_grad_sq)
        self.n_learned += 1

    @property
    def active_features(self) -> int:
        """Buckets that have received a gradient (at most ``n_features``)."""
        return int(np.count_nonzero(self.grad_sq))

    def __getstate__(self) -> dict[str, Any]:
        touched = np.flatnonzero(self.grad_sq).astype(np.int32)
        return {
            "n_features": self.n_features, "learning_rate": self.learning_rate,
            "bias": self.bias, "bias_grad_sq": self.bias_grad_sq, "n_learned": self.n_learned,
            "touched": touched, "weights": self.weights[touched],
            "grad_sq": self.grad_sq[touched],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.n_features = state["n_features"]
        self.learning_rate = state["learning_rate"]
        self.bias = state["bias"]
        self.bias_grad_sq = state["bias_grad_sq"]
        self.n_learned = state["n_learned"]
        self.weights = np.zeros(self.n_features, dtype=np.float32)
        self.grad_sq = np.zeros(self.n_features, dtype=np.float32)
        touched = state["touched"]
        self.weights[touched] = state["weights"]
        self.grad_sq[touched] = state["grad_sq"]
