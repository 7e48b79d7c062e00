"""The hybrid recommender: co-occurrence, factorisation, content and popularity, blended.

The customer's history decides the blend: with no history the ranking is by
(decayed) popularity; with a thin one, content similarity to what they bought
leads; from ``collaborative_after`` distinct items on, the collaborative scores
(co-occurrence first, factorisation second) carry the ranking. A seeded share of
the slots explores. Filters drop out-of-stock items, items already bought
(except consumable categories) and items shown ``max_shows`` times already.

The model keeps no history per customer: the caller passes it (the engine has it
in the customer profile). The only per-customer state is the factorisation's
user vector, which ``forget`` erases.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nextbest.models.recommend.content import Catalog, top_interest
from nextbest.models.recommend.cooccurrence import CoOccurrence, recent_distinct
from nextbest.models.recommend.factorization import ImplicitMF, Kind
from nextbest.models.recommend.popularity import Popularity

COOCCURRENCE = "cooccurrence"
FACTORIZATION = "factorization"
CONTENT = "content"
POPULARITY = "popularity"
EXPLORATION = "exploration"
CATALOG = "catalog"  # an item nothing speaks for yet, from a young model

_SOURCES = (COOCCURRENCE, FACTORIZATION, CONTENT, POPULARITY)  # ties go to the first

_Eligible = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended item, its blended score and why it was chosen."""

    item_id: str
    score: float
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class RecommendSettings:
    """Knobs of the recommender; the defaults were tuned on a MovieLens replay."""

    # co-occurrence: learning
    window: int = 20
    """An interaction is paired with the customer's last ``window`` distinct items."""
    position_decay: float = 0.1
    """Pair weight ``exp(-position_decay * distance)`` (0 = the previous item)."""
    max_neighbours: int = 100
    """Neighbours kept per item (a row is pruned back to this when it doubles)."""
    max_items: int = 200_000
    """Items with co-occurrence rows; the least recently bought are dropped beyond this."""
    cooccurrence_half_life_days: float | None = 730.0
    alpha: float = 0.5
    """Normalisation by the history item's popularity: ``c(a, b) / (n_a^alpha * n_b^beta)``."""
    beta: float = 0.3
    """Normalisation by the candidate's popularity (lower favours popular items)."""
    backward: float = 0.5
    """Weight of a pair read against time order (later item -> earlier), 1 = symmetric."""
    # co-occurrence: scoring
    recent: int = 20
    """Scores sum over the customer's last ``recent`` distinct items ..."""
    recency_decay: float = 0.1
    """... weighted ``exp(-recency_decay * rank)`` (0 = the latest item)."""
    # factorisation (River FunkMF / BiasedMF on implicit feedback)
    factorization: Kind = "funk"
    n_factors: int = 10
    negatives: int = 4
    learning_rate: float = 0.05
    l2: float = 0.001
    # popularity
    popularity_half_life_days: float | None = 90.0
    # blend
    collaborative_after: int = 3
    """Distinct items from which the collaborative weights are at full strength."""
    weight_cooccurrence: float = 1.0
    weight_factorization: float = 0.2
    """0 switches the factorisation off (not learned, not scored)."""
    weight_content: float = 0.1
    """Content weight at full collaborative strength ..."""
    weight_content_thin: float = 1.0
    """... and with a history of one item (interpolated in between)."""
    weight_popularity: float = 0.05
    """A small prior; with no history it is the whole ranking."""
    pool_cooccurrence: int = 200
    """Candidates taken from the co-occurrence scores (the strongest)."""
    pool_popular: int = 200
    pool_content: int = 100
    pool_factorization: int = 50
    # exploration and filters
    exploration: float = 0.10
    """Share of slots given to a random eligible item ("new for you")."""
    max_shows: int = 3
    """Items shown this many times to the customer are not recommended again."""
    consumable_categories: frozenset[str] = field(default_factory=frozenset)
    """Categories that may be recommended again after a purchase."""
    seed: int = 7


class Recommender:
    """Online hybrid recommender; plain Python state, picklable."""

    def __init__(self, settings: RecommendSettings | None = None) -> None:
        s = self.settings = settings or RecommendSettings()
        self.catalog = Catalog()
        self.cooccurrence = CoOccurrence(
            window=s.window, position_decay=s.position_decay, max_neighbours=s.max_neighbours,
            max_items=s.max_items, half_life_days=s.cooccurrence_half_life_days,
            alpha=s.alpha, beta=s.beta, backward=s.backward,
        )
        self.factorization: ImplicitMF | None = None
        if s.weight_factorization > 0:
            self.factorization = ImplicitMF(
                kind=s.factorization, n_factors=s.n_factors, negatives=s.negatives,
                learning_rate=s.learning_rate, l2=s.l2, seed=s.seed,
            )
        self.popularity = Popularity(half_life_days=s.popularity_half_life_days)
        self.learned = 0
        self._universe: list[str] = []  # every item ever seen, for exploration draws
        self._known: set[str] = set()

    def upsert_item(self, item_id: str, category: str | None = None, tags: Iterable[str] = (),
                    price: float | None = None, in_stock: bool = True) -> None:
        """Add or replace a catalog item (its whole current state)."""
        self.catalog.upsert(item_id, category=category, tags=tags, price=price,
                            in_stock=in_stock)
        self._see(item_id)

    def learn(self, customer_id: str, item_id: str, *, time_ms: int,
              history: Sequence[str] = (), weight: float = 1.0) -> None:
        """Learn one purchase (or interaction) at event time ``time_ms``.

        ``history`` is the customer's earlier items, oldest first, without this one.
        """
        if weight <= 0:
            raise ValueError(f"weight must be positive, got {weight}")
        self.cooccurrence.learn(item_id, history, time_ms=time_ms, weight=weight)
        self.popularity.learn(item_id, time_ms=time_ms, weight=weight)
        if self.factorization is not None:
            self.factorization.learn(customer_id, item_id,
                                     exclude=frozenset(history[-self.settings.window:]))
        self._see(item_id)
        self.learned += 1

    def forget(self, customer_id: str) -> None:
        """Erase the customer's per-customer state (their factorisation vector)."""
        if self.factorization is not None:
            self.factorization.forget(customer_id)

    def recommend(self, customer_id: str, k: int = 10, *, history: Sequence[str] = (),
                  shown: Mapping[str, int] | None = None) -> list[Recommendation]:
        """The ``k`` best eligible items for the customer, best first, each with its reason.

        ``history``: the customer's items, oldest first; ``shown``: how often each item
        was shown to them already. Neither is modified.
        """
        if k <= 0:
            return []
        s = self.settings
        consumable = s.consumable_categories
        owned = {item for item in history if self.catalog.category(item) not in consumable
                 } if consumable else set(history)
        over_shown = {item for item, times in (shown or {}).items() if times >= s.max_shows}
        out_of_stock = self.catalog.out_of_stock

        def eligible(item: str) -> bool:
            return item not in owned and item not in over_shown and item not in out_of_stock

        ranked = self._rank(customer_id, list(history), eligible, k)
        return self._explore(customer_id, len(set(history)), ranked, eligible, k)

    def _rank(self, customer_id: str, history: list[str], eligible: _Eligible,
              k: int) -> list[Recommendation]:
        s = self.settings
        distinct = len(set(history))
        share = min(1.0, distinct / s.collaborative_after) if s.collaborative_after > 0 else 1.0
        sources = recent_distinct(history, s.recent)  # most recent first
        together = self.cooccurrence.scores_from(
            sources, recency_decay=s.recency_decay) if history else {}
        taste = self.catalog.taste(history) if history else {}
        pool: dict[str, None] = dict.fromkeys(heapq.nlargest(
            s.pool_cooccurrence, filter(eligible, together), key=together.__getitem__))
        top_together = max((together[item] for item in pool), default=0.0)
        pool.update(dict.fromkeys(self.popularity.top(s.pool_popular, eligible)))
        alike = self.catalog.similarities(taste)  # the whole catalogue at once, by row
        row_of = self.catalog.rows  # an item's position in ``alike`` (absent: 0.0)

        if taste and s.pool_content > 0:  # the most popular eligible items like the taste
            alike_popular: list[str] = []
            for item in self.popularity.ranked():
                row = row_of.get(item)
                if row is not None and alike[row] > 0 and eligible(item):
                    alike_popular.append(item)
                    if len(alike_popular) >= s.pool_content:
                        break
            pool.update(dict.fromkeys(alike_popular))
        affinity = self._affinity(customer_id, eligible, pool)
        if len(pool) < k:  # a young model: catalog items nobody has bought yet
            for item in self._universe:
                if item not in pool and eligible(item):
                    pool[item] = None
                    if len(pool) >= k:
                        break

        w_together = share * s.weight_cooccurrence / top_together if top_together else 0.0
        w_affinity = share * s.weight_factorization
        w_content = s.weight_content if share >= 1.0 else (
            s.weight_content_thin + (s.weight_content - s.weight_content_thin)
            * max(0.0, distinct - 1) / max(1, s.collaborative_after - 1))
        w_popular = s.weight_popularity
        # Popularity.score inlined (the same arithmetic) in this hot loop
        popular, top_count = self.popularity.counts, self.popularity.max_count
        together_of, affinity_of, row_of_item = together.get, affinity.get, row_of.get
        rows: list[tuple[float, str, tuple[float, float, float, float]]] = []
        for item in pool:
            row = row_of_item(item)
            parts = (w_together * together_of(item, 0.0),  # same order as _SOURCES
                     w_affinity * affinity_of(item, 0.0),
                     w_content * (0.0 if row is None else alike[row]),
                     w_popular * (popular.get(item, 0.0) / top_count if top_count > 0
                                  else 0.0))
            rows.append((-sum(parts), item, parts))
        out: list[Recommendation] = []
        for negative, item, parts in heapq.nsmallest(k, rows):  # best first, ties by item id
            strongest = max(range(len(parts)), key=parts.__getitem__)
            if parts[strongest] <= 0:
                out.append(Recommendation(item, 0.0, "new for you", CATALOG))
                continue
            source = _SOURCES[strongest]
            out.append(Recommendation(item, round(-negative, 6),
                                      self._reason(source, item, sources, taste), source))
        return out

    def _affinity(self, customer_id: str, eligible: _Eligible,
                  pool: dict[str, None]) -> dict[str, float]:
        """Factorisation scores min-max scaled to [0, 1]; adds its best items to ``pool``."""
        mf = self.factorization
        if mf is None or not mf.knows(customer_id) or not mf.items:
            return {}
        everything = mf.scores(customer_id)
        assert everything is not None
        wanted = self.settings.pool_factorization
        best: list[str] = []
        head = min(len(everything), 4 * wanted)  # usually enough eligible items in the head
        for order in (np.argpartition(-everything, head - 1)[:head], np.arange(len(everything))):
            best = []
            for row in order[np.argsort(-everything[order], kind="stable")]:
                item = mf.items[row]
                if eligible(item):
                    best.append(item)
                    if len(best) >= wanted:
                        break
            if len(best) >= wanted or head == len(everything):
                break
        pool.update(dict.fromkeys(best))
        items = list(pool)
        if not items:  # nothing eligible at all (e.g. everything is already owned)
            return {}
        values = mf.scores(customer_id, items)
        assert values is not None
        low, high = float(values.min()), float(values.max())
        if high <= low:
            return {}
        scaled = (values - low) / (high - low)
        return dict(zip(items, scaled.tolist(), strict=True))

    def _reason(self, source: str, item: str, sources: list[str],
                taste: dict[str, float]) -> str:
        s = self.settings
        category = self.catalog.category(item)
        if source == COOCCURRENCE:
            because = self.cooccurrence.strongest_from(
                sources, item, recency_decay=s.recency_decay)
            return f"bought together with {because}"
        if source == FACTORIZATION:
            return "customers with similar taste chose this"
        if source == CONTENT:
            interest = category if category and taste.get(f"c:{category}") else (
                top_interest(taste))
            return f"matches your interest in {interest}" if interest else "matches your taste"
        return f"popular in {category}" if category else "popular right now"

    def _explore(self, customer_id: str, distinct: int, ranked: list[Recommendation],
                 eligible: _Eligible, k: int) -> list[Recommendation]:
        share = self.settings.exploration
        if share <= 0 or not self._universe:
            return ranked
        # deterministic: seeded by the settings, the customer and what the model has seen
        rng = random.Random(f"{self.settings.seed}:{customer_id}:{distinct}:{self.learned}")
        exclude = {rec.item_id for rec in ranked}  # exploring means leaving the top k
        queue = iter(ranked)
        out: list[Recommendation] = []
        for _slot in range(k):
            pick = self._draw(rng, eligible, exclude) if rng.random() < share else None
            if pick is not None:
                exclude.add(pick)
                out.append(Recommendation(pick, 0.0, "new for you", EXPLORATION))
                continue
            follow = next(queue, None)
            if follow is None:
                break
            out.append(follow)
        return out

    def _draw(self, rng: random.Random, eligible: _Eligible, exclude: set[str]) -> str | None:
        for _attempt in range(20):
            item = self._universe[rng.randrange(len(self._universe))]
            if item not in exclude and eligible(item):
                return item
        return None

    def _see(self, item_id: str) -> None:
        if item_id not in self._known:
            self._known.add(item_id)
            self._universe.append(item_id)

