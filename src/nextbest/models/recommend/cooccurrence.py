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

Scoring reads the rows through derived arrays (never pickled): a column per item, the
columns of each row read so far (extended as the row grows, dropped when it is replaced)
and each column's count and ``count ** beta``. The sums are taken in the same order as a
loop over the rows would take them, so the scores are the same floats.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from nextbest.models.recommend.decay import ForwardDecay
from nextbest.models.recommend.positions import Positions, room

_DERIVED = ("_columns", "_row_columns", "_n", "_n_beta", "_n_beta_of")


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
        self._reset_derived()

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in _DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_derived()

    def learn(
        self, item_id: str, history: Sequence[str], *, time_ms: int, weight: float = 1.0
    ) -> None:
        """Pair ``item_id`` with the customer's earlier items (``history``, oldest first)."""
        if self._decay.rescale_due(time_ms):
            self._rescale(self._decay.rescale(time_ms))
        boost = weight * self._decay.boost(time_ms)
        count = self.counts.pop(item_id, 0.0) + boost  # re-insert: most recently bought last
        self.counts[item_id] = count
        column = self._columns.of.get(item_id)
        if column is not None:
            self._count_column(column, count)
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
                self._row_columns.pop(other, None)
        if len(own) > 2 * self.max_neighbours:
            self.neighbours[item_id] = self._strongest(own)
            self._row_columns.pop(item_id, None)
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
        columns, values = self.score_columns(sources, recency_decay=recency_decay)
        items = self._columns.items
        return dict(zip([items[column] for column in columns.tolist()], values.tolist(),
                        strict=True))

    def score_columns(self, sources: Sequence[str], *, recency_decay: float = 0.1
                      ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """:meth:`scores_from` as arrays: the items' columns (see :attr:`column_items`), in
        the order the items first occur in the sources' rows, and their scores."""
        counts = self.counts
        neighbours = self.neighbours
        rows: list[dict[str, float]] = []
        parts: list[npt.NDArray[np.intp]] = []
        scales: list[float] = []
        for rank, source in enumerate(sources):
            n_source = counts.get(source)
            if not n_source:
                continue
            row = neighbours.get(source)
            if not row:
                continue
            rows.append(row)
            parts.append(self._row_columns_of(source, row))
            scales.append(math.exp(-recency_decay * rank) / n_source**self.alpha)
        if not rows:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        if len(rows) == 1:
            columns = parts[0]
            values = scales[0] * np.fromiter(rows[0].values(), dtype=np.float64,
                                             count=len(columns))
        else:  # each item's terms added in the sources' order, from 0.0, as a loop would
            joined = np.concatenate(parts)
            weights = np.repeat(scales, [len(part) for part in parts]) * np.fromiter(
                itertools.chain.from_iterable(row.values() for row in rows),
                dtype=np.float64, count=len(joined))
            first = np.full(len(self._columns), len(joined))
            np.minimum.at(first, joined, np.arange(len(joined)))
            columns = np.flatnonzero(first < len(joined))
            columns = columns[np.argsort(first[columns])]
            sums = cast("npt.NDArray[np.float64]", np.bincount(
                joined, weights=weights, minlength=len(self._columns)))
            values = sums[columns]
        if self._n_beta_of != self.beta:
            self._recount()
        # items missing from counts were evicted: they score nothing
        counted = self._n[columns] != 0
        columns = columns[counted]
        return columns, values[counted] / self._n_beta[columns]

    @property
    def column_items(self) -> list[str]:
        """The item of each column of :meth:`score_columns` (grows at the end; read only)."""
        return self._columns.items

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
        return self.strongest_of(sources, [item_id], recency_decay=recency_decay)[0]

    def strongest_of(self, sources: Sequence[str], items: Sequence[str], *,
                     recency_decay: float = 0.1) -> list[str | None]:
        """:meth:`strongest_from` of each of ``items`` (the sources' weights worked out once)."""
        weighted: list[tuple[str, dict[str, float], float, float]] = []
        if items:
            for rank, source in enumerate(sources):
                row = self.neighbours.get(source)
                n_source = self.counts.get(source)
                if row and n_source:
                    weighted.append((source, row, math.exp(-recency_decay * rank),
                                     n_source**self.alpha))
        out: list[str | None] = []
        for item_id in items:
            best, best_part = None, 0.0
            for source, row, recency, norm in weighted:
                together = row.get(item_id)
                if together:
                    part = recency * together / norm
                    if part > best_part:
                        best, best_part = source, part
            out.append(best)
        return out

    def _strongest(self, row: dict[str, float]) -> dict[str, float]:
        keep = sorted(row, key=row.__getitem__, reverse=True)[: self.max_neighbours]
        return {item: row[item] for item in keep}

    def _evict(self) -> None:
        excess = len(self.counts) - self.max_items
        for item in list(self.counts)[:excess]:
            del self.counts[item]
            self.neighbours.pop(item, None)  # rows pointing at it are skipped when scoring
            self._row_columns.pop(item, None)
            column = self._columns.of.get(item)
            if column is not None:
                self._count_column(column, 0.0)

    def _rescale(self, factor: float) -> None:
        self.counts = {item: count * factor for item, count in self.counts.items()}
        for item, row in self.neighbours.items():
            self.neighbours[item] = {other: value * factor for other, value in row.items()}
        self._row_columns.clear()
        self._recount()

    # --- derived arrays (never pickled) ---------------------------------------------------

    def _reset_derived(self) -> None:
        self._columns = Positions()
        # per row read so far: its items' columns (with room to grow) and how many
        self._row_columns: dict[str, tuple[npt.NDArray[np.intp], int]] = {}
        self._n: npt.NDArray[np.float64] = np.zeros(0)  # count by column, 0.0 if none
        self._n_beta: npt.NDArray[np.float64] = np.zeros(0)  # count ** beta by column
        self._n_beta_of = self.beta

    def _row_columns_of(self, source: str, row: dict[str, float]) -> npt.NDArray[np.intp]:
        """The columns of ``row``'s items in its order (a row only grows at the end until it
        is replaced, and a replaced row's columns are dropped): kept with room to grow."""
        size = len(row)
        known = self._row_columns.get(source)
        if known is not None and known[1] == size:
            return known[0][:size]
        if known is None or known[1] > size:  # a row not read yet (or replaced)
            columns, done = np.empty(max(2 * size, 8), dtype=np.intp), 0
        else:
            columns, done = known
            if size > len(columns):
                grown = np.empty(2 * size, dtype=np.intp)
                grown[:done] = columns[:done]
                columns = grown
        columns[done:size] = [self._column(item) for item in itertools.islice(row, done, None)]
        self._row_columns[source] = (columns, size)
        return columns[:size]

    def _column(self, item: str) -> int:
        column = self._columns.of.get(item)
        if column is None:
            column = self._columns.add(item)
            self._n, self._n_beta = room(self._n, column + 1), room(self._n_beta, column + 1)
            self._count_column(column, self.counts.get(item, 0.0))
        return column

    def _count_column(self, column: int, count: float) -> None:
        self._n[column] = count
        self._n_beta[column] = count**self.beta if count else 0.0

    def _recount(self) -> None:
        self._n_beta_of = self.beta
        get = self.counts.get
        for column, item in enumerate(self._columns.items):
            self._count_column(column, get(item, 0.0))

    def __len__(self) -> int:
        return len(self.counts)
