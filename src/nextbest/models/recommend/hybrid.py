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

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.models.recommend.content import Catalog, top_interest
from nextbest.models.recommend.cooccurrence import CoOccurrence, recent_distinct
from nextbest.models.recommend.factorization import ImplicitMF, Kind
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.positions import Positions, room

COOCCURRENCE = "cooccurrence"
FACTORIZATION = "factorization"
CONTENT = "content"
POPULARITY = "popularity"
EXPLORATION = "exploration"
CATALOG = "catalog"  # an item nothing speaks for yet, from a young model
VISIT = "visit"

_SOURCES = (COOCCURRENCE, FACTORIZATION, CONTENT, POPULARITY, VISIT)  # ties go to the first

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
    weight_visit: float = 1.0
    """Content similarity to the items of the customer's current visit, however long their
    history: what they look for now, next to what they have always liked."""
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
        self._slots = _Slots()  # derived, never pickled

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_slots"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._slots = _Slots()

    def upsert_item(self, item_id: str, category: str | None = None, tags: Iterable[str] = (),
                    price: float | None = None, in_stock: bool = True,
                    at: int | None = None) -> None:
        """Add or replace a catalog item (its whole current state, as of event time ``at``)."""
        self.catalog.upsert(item_id, category=category, tags=tags, price=price,
                            in_stock=in_stock, at=at)
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
                  shown: Mapping[str, int] | None = None,
                  visit: Sequence[str] = ()) -> list[Recommendation]:
        """The ``k`` best eligible items for the customer, best first, each with its reason.

        ``history``: the customer's items, oldest first; ``shown``: how often each item
        was shown to them already; ``visit``: the items of their current visit, oldest first
        (not recommended back to them). None is modified.
        """
        if k <= 0:
            return []
        s = self.settings
        consumable = s.consumable_categories
        owned = {item for item in history if self.catalog.category(item) not in consumable
                 } if consumable else set(history)
        owned.update(visit)
        over_shown = {item for item, times in (shown or {}).items() if times >= s.max_shows}
        out_of_stock = self.catalog.out_of_stock

        def eligible(item: str) -> bool:
            return item not in owned and item not in over_shown and item not in out_of_stock

        blocked = (owned, over_shown, out_of_stock)
        ranked = self._rank(customer_id, list(history), eligible, blocked, k, visit)
        return self._explore(customer_id, len(set(history)), ranked, eligible, k)

    def _rank(self, customer_id: str, history: list[str], eligible: _Eligible,
              blocked: tuple[Iterable[str], ...], k: int,
              visit: Sequence[str] = ()) -> list[Recommendation]:
        # Arrays by slot (see _Slots) instead of a loop over the pool's items: the same
        # candidates in the same order, and each part of a score from the same float
        # operations in the same order as per item, so the same scores and the same ranking.
        s = self.settings
        distinct = len(set(history))
        share = min(1.0, distinct / s.collaborative_after) if s.collaborative_after > 0 else 1.0
        sources = recent_distinct(history, s.recent)  # most recent first
        together_columns, together_values = self.cooccurrence.score_columns(
            sources, recency_decay=s.recency_decay)  # no sources without a history
        taste = self.catalog.taste(history) if history else {}
        looking_for = self.catalog.taste(visit) if visit and s.weight_visit > 0 else {}
        slots = self._slots
        for item in self._universe[slots.universe:]:  # the universe first: its own order
            slots.add(item)
        slots.universe = len(self._universe)
        popular_slots = slots.aligned(self.popularity.order())  # most popular first
        counted_slots = slots.aligned(self.popularity.counted_items)
        catalog_slots = slots.aligned(self.catalog.row_items)
        together_slots = slots.aligned(self.cooccurrence.column_items)[together_columns]
        mf = self.factorization
        mf_slots = slots.aligned(mf.items) if mf is not None else None
        ok = slots.eligible(blocked)  # by slot; sized now that every candidate has a slot

        # co-occurrence: the strongest eligible (ties in the scores' own order)
        keep = ok[together_slots]
        strongest = together_slots[keep]
        strongest_values = together_values[keep]
        order = np.argsort(-strongest_values, kind="stable")[:s.pool_cooccurrence]
        top_together = float(strongest_values[order].max()) if len(order) else 0.0
        pool = [strongest[order]]
        ok_popular = ok[popular_slots]
        pool.append(popular_slots[np.flatnonzero(ok_popular)[:s.pool_popular]])
        alike = np.zeros(len(ok))
        like_visit = np.zeros(len(ok))
        for tasted, similar in ((taste, alike), (looking_for, like_visit)):
            if tasted:
                similar[catalog_slots] = self.catalog.similarity_array(tasted)
                if s.pool_content > 0:  # the most popular eligible items like the taste
                    liked = ok_popular & (similar[popular_slots] > 0)
                    pool.append(popular_slots[np.flatnonzero(liked)[:s.pool_content]])
        candidates = _first_seen(pool, len(ok))
        candidates, affinity = self._affinity(customer_id, ok, mf_slots, candidates)
        if len(candidates) < k:  # a young model: catalog items nobody has bought yet
            chosen = {slots.items[slot] for slot in candidates.tolist()}
            extra: list[int] = []
            for item in self._universe:
                if item not in chosen and eligible(item):
                    extra.append(slots.of[item])
                    if len(candidates) + len(extra) >= k:
                        break
            candidates = np.concatenate([candidates, np.array(extra, dtype=np.intp)])
            affinity = np.concatenate([affinity, np.zeros(len(extra))])

        w_together = share * s.weight_cooccurrence / top_together if top_together else 0.0
        w_affinity = share * s.weight_factorization
        w_content = s.weight_content if share >= 1.0 else (
            s.weight_content_thin + (s.weight_content - s.weight_content_thin)
            * max(0.0, distinct - 1) / max(1, s.collaborative_after - 1))
        w_popular = s.weight_popularity
        together_all = np.zeros(len(ok))
        together_all[together_slots] = together_values
        # Popularity.score (the same arithmetic) for the candidates
        popular = np.zeros(len(ok))
        popular[counted_slots] = self.popularity.count_array()
        top_count = self.popularity.max_count
        parts = (w_together * together_all[candidates],  # same order as _SOURCES
                 w_affinity * affinity,
                 w_content * alike[candidates],
                 w_popular * (popular[candidates] / top_count if top_count > 0
                              else np.zeros(len(candidates))),
                 s.weight_visit * like_visit[candidates])
        total = parts[0] + parts[1] + parts[2] + parts[3]  # left to right, as sum() adds floats
        if looking_for:  # without a visit, the same floats as before there was one
            total = total + parts[4]
        best: list[tuple[str, float, str]] = []  # item, score, source
        for negative, item, at in _smallest(k, -total, candidates,
                                            slots.items):  # best first, ties by id
            mine = [float(part[at]) for part in parts]
            strongest_part = max(range(len(mine)), key=mine.__getitem__)
            if mine[strongest_part] <= 0:
                best.append((item, 0.0, CATALOG))
            else:
                best.append((item, round(-negative, 6), _SOURCES[strongest_part]))
        because = iter(self.cooccurrence.strongest_of(
            sources, [item for item, _, source in best if source == COOCCURRENCE],
            recency_decay=s.recency_decay))
        return [Recommendation(item, score, "new for you", source) if source == CATALOG
                else Recommendation(item, score, self._reason(
                    source, item, because, looking_for if source == VISIT else taste), source)
                for item, score, source in best]

    def _affinity(self, customer_id: str, ok: npt.NDArray[np.bool_],
                  mf_slots: npt.NDArray[np.intp] | None, candidates: npt.NDArray[np.intp],
                  ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Factorisation scores of the candidates min-max scaled to [0, 1] (zeros when there
        are none), the candidates first joined by the factorisation's best eligible items."""
        mf = self.factorization
        nothing = np.zeros(len(candidates))
        if mf is None or mf_slots is None or not mf.knows(customer_id) or not mf.items:
            return candidates, nothing
        everything = mf.scores(customer_id)
        assert everything is not None
        wanted = self.settings.pool_factorization
        best = np.zeros(0, dtype=np.intp)
        head = min(len(everything), 4 * wanted)  # usually enough eligible items in the head
        for order in (np.argpartition(-everything, head - 1)[:head], np.arange(len(everything))):
            ranked = order[np.argsort(-everything[order], kind="stable")]
            best = ranked[np.flatnonzero(ok[mf_slots[ranked]])[:wanted]]
            if len(best) >= wanted or head == len(everything):
                break
        candidates = _first_seen([candidates, mf_slots[best]], len(ok))
        if not len(candidates):  # nothing eligible at all (e.g. everything is already owned)
            return candidates, np.zeros(0)
        rows = self._slots.rows_in(mf_slots)[candidates]
        values = mf.row_scores(customer_id, rows)
        assert values is not None
        low, high = float(values.min()), float(values.max())
        if high <= low:
            return candidates, np.zeros(len(candidates))
        return candidates, (values - low) / (high - low)

    def _reason(self, source: str, item: str, because: Iterator[str | None],
                taste: dict[str, float]) -> str:
        """``because``: the strongest history item of each co-occurrence pick, in turn."""
        category = self.catalog.category(item)
        if source == COOCCURRENCE:
            return f"bought together with {next(because)}"
        if source == FACTORIZATION:
            return "customers with similar taste chose this"
        if source == VISIT:
            interest = category if category and taste.get(f"c:{category}") else (
                top_interest(taste))
            return f"goes with the {interest} you are looking at" if interest else (
                "goes with what you are looking at")
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



def _first_seen(parts: list[npt.NDArray[np.intp]], size: int) -> npt.NDArray[np.intp]:
    """The slots of ``parts`` (each part without repeats; slots below ``size``) in order, each
    once, where it first appears."""
    seen = np.zeros(size, dtype=bool)
    fresh: list[npt.NDArray[np.intp]] = []
    for part in parts:
        if fresh:
            part = part[~seen[part]]
        seen[part] = True
        fresh.append(part)
    return np.concatenate(fresh) if fresh else np.zeros(0, dtype=np.intp)


def _smallest(k: int, negatives: npt.NDArray[np.float64], candidates: npt.NDArray[np.intp],
              ids: list[str]) -> list[tuple[float, str, int]]:
    """``heapq.nsmallest(k, zip(negatives, items, positions))`` where the candidates' items
    are ``ids[candidate]``: the lowest values first, ties to the lower item id."""
    at = np.arange(len(candidates))
    if len(candidates) > k:
        at = np.flatnonzero(negatives <= np.partition(negatives, k - 1)[k - 1])
    return sorted(zip(negatives[at].tolist(), [ids[slot] for slot in candidates[at].tolist()],
                      at.tolist(), strict=True))[:k]


class _Slots(Positions):
    """Every item the recommender has met at a fixed position (its slot), for arrays over
    the items.

    Derived state (never pickled): the universe in its own order, then any item another
    model knows that the universe does not (there should be none). Sequences another model
    owns (the popularity ranking, the catalogue rows, the factorisation's items) are mapped
    to slots once and extended as they grow."""

    __slots__ = ("_aligned", "_rows", "universe")

    def __init__(self) -> None:
        super().__init__()
        self.universe = 0  # how much of the recommender's universe has slots
        self._aligned: dict[int, tuple[list[str], npt.NDArray[np.intp]]] = {}
        self._rows: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]] | None = None

    def aligned(self, items: list[str]) -> npt.NDArray[np.intp]:
        """The slots of ``items`` (added if new), in their order, for a list that only grows at
        the end or is replaced (cached by list)."""
        known = self._aligned.get(id(items))
        if known is None or known[0] is not items or len(known[1]) > len(items):
            known = (items, np.zeros(0, dtype=np.intp))
        done = known[1]
        if len(done) < len(items):
            added = [self.add(item) for item in items[len(done):]]
            done = np.concatenate([done, np.array(added, dtype=np.intp)])
            if len(self._aligned) > 8:  # replaced lists (a re-sorted ranking) are let go
                self._aligned.clear()
            self._aligned[id(items)] = (items, done)
        return done

    def rows_in(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        """By slot, the position the slot holds in ``slots`` (-1 where none)."""
        if self._rows is None or self._rows[0] is not slots:
            rows = np.full(len(self), -1, dtype=np.int64)
            rows[slots] = np.arange(len(slots), dtype=np.int64)
            self._rows = (slots, rows)
        rows = room(self._rows[1], len(self), fill=-1)
        self._rows = (slots, rows)
        return rows

    def eligible(self, blocked: tuple[Iterable[str], ...]) -> npt.NDArray[np.bool_]:
        """By slot, False for the items in any of ``blocked``."""
        ok = np.ones(len(self), dtype=bool)
        get = self.of.get
        for items in blocked:
            hit = [slot for item in items if (slot := get(item)) is not None]
            if hit:
                ok[hit] = False
        return ok
