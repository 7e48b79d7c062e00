"""Item-to-item co-occurrence ("customers who bought this also bought"), learned online.

Linden, Smith and York (2003) pair items that the same customers bought. Here
each interaction is paired, as it arrives, with the customer's last ``window``
distinct items (nearer items count more; ``backward`` weighs the pair read
against time order, from the later item to the earlier one), counts decay with
event time, and memory is bounded: each item keeps its strongest neighbours
only and the least recently bought items are dropped beyond ``max_items``.

Scores normalise the counts by popularity,
``c(a, b) / (n_a ** alpha * n_b ** beta)`` (``alpha = beta = 0.5`` is cosine),
summed over the customer's recent items with a recency weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nextbest.models.recommend.decay import ForwardDecay


def recent_distinct(history: Sequence[str], limit: int) -> list[str]:
    """The last ``limit`` distinct items of ``history`` (oldest first), most recent first."""
    out: list[str] = []
    seen: set[str] = set()
    for item in reversed(history):
        if item not in seen:
            seen.add(item)
            out.append(item)
            if len(out) >= limit:
                break
    return out


class CoOccurrence:
    """Bounded, decayed item-to-item co-occurrence counts."""

    def __init__(
        self,
        *,
        window: int = 20,
        position_decay: float = 0.1,
        max_neighbours: int = 100,
        max_items: int = 200_000,
        half_life_days: float | None = 730.0,
        alpha: float = 0.5,
        beta: float = 0.3,
        backward: float = 0.5,
    ) -> None:
        self.window = window
        self.position_decay = position_decay
        self.max_neighbours = max_neighbours
        self.max_items = max_items
        self.alpha = alpha
        self.beta = beta
        self.backward = backward
        self.neighbours: dict[str, dict[str, float]] = {}
        # decayed interaction count per item; insertion order = least recently bought first
        self.counts: dict[str, float] = {}
        self._decay = ForwardDecay(half_life_days)

    def learn(
        self, item_id: str, history: Sequence[str], *, time_ms: int, weight: float = 1.0
    ) -> None:
        """Pair ``item_id`` with the customer's earlier items (``history``, oldest first)."""
        if self._decay.rescale_due(time_ms):
            self._rescale(self._decay.rescale(time_ms))
        boost = weight * self._decay.boost(time_ms)
        count = self.counts.pop(item_id, 0.0) + boost  # re-insert: most recently bought last
        self.counts[item_id] = count
        own = self.neighbours.setdefault(item_id, {})
        for distance, other in enumerate(recent_distinct(history, self.window)):
            if other == item_id or other not in self.counts:
                continue  # a repeat, or an item evicted (or never learned)
            increment = boost * math.exp(-self.position_decay * distance)
            own[other] = own.get(other, 0.0) + increment * self.backward
            theirs = self.neighbours.setdefault(other, {})
            theirs[item_id] = theirs.get(item_id, 0.0) + increment
            if len(theirs) > 2 * self.max_neighbours:
                self.neighbours[other] = self._strongest(theirs)
        if len(own) > 2 * self.max_neighbours:
            self.neighbours[item_id] = self._strongest(own)
        if len(self.counts) > self.max_items + max(16, self.max_items // 8):
            self._evict()

    def scores(
        self, history: Sequence[str], *, recent: int = 20, recency_decay: float = 0.1
    ) -> dict[str, float]:
        """Score of every neighbour of the customer's recent items (items never bought
        together with them score nothing)."""
        return self.scores_from(recent_distinct(history, recent), recency_decay=recency_decay)

    def scores_from(self, sources: Sequence[str], *, recency_decay: float = 0.1
                    ) -> dict[str, float]:
        """:meth:`scores` from the recent distinct items, most recent first."""
        raw: dict[str, float] = {}
        counts = self.counts
        neighbours = self.neighbours
        get = raw.get
        for rank, source in enumerate(sources):
            n_source = counts.get(source)
            if not n_source:
                continue
            row = neighbours.get(source)
            if not row:
                continue
            scale = math.exp(-recency_decay * rank) / n_source**self.alpha
            for item, together in row.items():
                raw[item] = get(item, 0.0) + scale * together
        beta = self.beta
        # items missing from counts were evicted: they score nothing
        return {item: value / n_item**beta for item, value in raw.items()
                if (n_item := counts.get(item))}

    def strongest_source(
        self, history: Sequence[str], item_id: str, *, recent: int = 20,
        recency_decay: float = 0.1,
    ) -> str | None:
        """The recent history item that contributes most to ``item_id``'s score."""
        return self.strongest_from(recent_distinct(history, recent), item_id,
                                   recency_decay=recency_decay)

    def strongest_from(self, sources: Sequence[str], item_id: str, *,
                       recency_decay: float = 0.1) -> str | None:
        """:meth:`strongest_source` from the recent distinct items, most recent first."""
        best, best_part = None, 0.0
        for rank, source in enumerate(sources):
            together = self.neighbours.get(source, {}).get(item_id)
            n_source = self.counts.get(source)
            if together and n_source:
                part = math.exp(-recency_decay * rank) * together / n_source**self.alpha
                if part > best_part:
                    best, best_part = source, part
        return best

    def _strongest(self, row: dict[str, float]) -> dict[str, float]:
        keep = sorted(row, key=row.__getitem__, reverse=True)[: self.max_neighbours]
        return {item: row[item] for item in keep}

    def _evict(self) -> None:
        excess = len(self.counts) - self.max_items
        for item in list(self.counts)[:excess]:
            del self.counts[item]
            self.neighbours.pop(item, None)  # rows pointing at it are skipped when scoring

    def _rescale(self, factor: float) -> None:
        self.counts = {item: count * factor for item, count in self.counts.items()}
        for item, row in self.neighbours.items():
            self.neighbours[item] = {other: value * factor for other, value in row.items()}

    def __len__(self) -> int:
        return len(self.counts)
