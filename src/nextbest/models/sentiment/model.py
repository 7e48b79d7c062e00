"""Sentiment of reviews and support messages: P(positive) from text.

:class:`SentimentModel` combines the lexicon prior (:mod:`.lexicon`), the online text
classifier (:mod:`.text`) and their learned blend (:mod:`.blend`). It learns from review
ratings (4-5 positive, 1-2 negative, 3 ignored) or explicit labels, one text at a time, and
scores any text. Before any learning the score is the lexicon prior alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nextbest.models.sentiment.blend import LexiconBlend
from nextbest.models.sentiment.lexicon import lexicon_score
from nextbest.models.sentiment.text import HashedLogisticRegression, Indices, hashed_features


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """One text's sentiment.

    ``positive`` is P(positive) and ``negative`` its complement; ``confidence`` is
    ``|positive - negative|`` in [0, 1]; ``lexicon`` is VADER's compound score in [-1, 1];
    ``learned_weight`` is the share of the score taken from learned data (0 at cold start).
    """

    positive: float
    negative: float
    confidence: float
    lexicon: float
    learned_weight: float


def _sigmoid(z: float) -> float:
    z = max(-35.0, min(35.0, z))
    return 1.0 / (1.0 + math.exp(-z))


class SentimentModel:
    """Online sentiment: lexicon prior blended into a hashed text classifier.

    The last text's features and lexicon score are cached (not pickled), so scoring a text
    and then learning from it featurises it once.
    """

    def __init__(
        self,
        n_features: int = 2**18,
        learning_rate: float = 0.2,
        lexicon_weight: float = 2.0,
        blend_learning_rate: float = 1.0,
        ramp: float = 50.0,
    ) -> None:
        self.text = HashedLogisticRegression(n_features, learning_rate)
        self.blend = LexiconBlend(lexicon_weight, blend_learning_rate, ramp)
        self._cache: tuple[str, Indices, float] | None = None

    @property
    def n_learned(self) -> int:
        """Labelled texts learned so far."""
        return self.blend.n_learned

    @property
    def active_features(self) -> int:
        """Hashed feature buckets in use (at most ``n_features``)."""
        return self.text.active_features

    def _prepare(self, text: str) -> tuple[Indices, float]:
        cached = self._cache
        if cached is not None and cached[0] == text:
            return cached[1], cached[2]
        idx = hashed_features(text, self.text.n_features)
        lex = lexicon_score(text)
        self._cache = (text, idx, lex)
        return idx, lex

    def score(self, text: str) -> SentimentScore:
        """P(positive) of ``text`` with its lexicon score and the learned share."""
        idx, lex = self._prepare(text)
        p = _sigmoid(self.blend.logit(self.text.logit(idx), lex))
        return SentimentScore(
            positive=p, negative=1.0 - p, confidence=abs(2.0 * p - 1.0), lexicon=lex,
            learned_weight=self.blend.learned_weight,
        )

    def learn_label(self, text: str, positive: bool) -> None:
        """Learn one labelled text: the blend from the text model's prior guess, then it."""
        idx, lex = self._prepare(text)
        self.blend.learn(self.text.logit(idx), lex, positive)
        self.text.learn(idx, positive)

    def learn(self, text: str, rating: float) -> bool:
        """Learn from a 1-5 star rating: >= 4 positive, <= 2 negative, else (3, NaN) ignored.

        Returns whether the review was learned.
        """
        if rating >= 4:
            self.learn_label(text, True)
        elif rating <= 2:
            self.learn_label(text, False)
        else:
            return False
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {"text": self.text, "blend": self.blend}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.text = state["text"]
        self.blend = state["blend"]
        self._cache = None
