"""Time-decayed item popularity: the fallback when nothing else is known."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.models.recommend.decay import ForwardDecay
from nextbest.models.recommend.positions import Positions, room


class Popularity:
    """Decayed interaction counts per item, so the ranking follows recent popularity.

    The ranking is re-sorted lazily, at most once per ``refresh_every`` learned events
    (more often while there are few items); items new since then rank last.
    """

    _positions: Positions
    _values: npt.NDArray[np.float64]

    def __init__(self, *, half_life_days: float | None = 90.0, refresh_every: int = 256) -> None:
        self.counts: dict[str, float] = {}
        self.refresh_every = max(1, refresh_every)
        self._decay = ForwardDecay(half_life_days)
        self._order: list[str] = []
        self._stale = 0
        self._max = 0.0
        self._mirror()

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()
                if key not in ("_positions", "_values")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mirror()

    def learn(self, item_id: str, *, time_ms: int, weight: float = 1.0) -> None:
        """Count one interaction with ``item_id`` at event time ``time_ms``."""
        if self._decay.rescale_due(time_ms):
            factor = self._decay.rescale(time_ms)
            self.counts = {item: count * factor for item, count in self.counts.items()}
            self._max *= factor
            self._mirror()
        if item_id not in self.counts:
            self._order.append(item_id)  # new items are rankable at once, at the tail
        count = self.counts.get(item_id, 0.0) + weight * self._decay.boost(time_ms)
        self.counts[item_id] = count
        self._max = max(self._max, count)
        self._stale += 1
        position = self._positions.add(item_id)
        self._values = room(self._values, position + 1)
        self._values[position] = count

    @property
    def counted_items(self) -> list[str]:
        """The counted items in the order :meth:`count_array` gives their counts (grows at the
        end; read it, do not change it)."""
        return self._positions.items

    def count_array(self) -> npt.NDArray[np.float64]:
        """:attr:`counts` as an array, by :attr:`counted_items` position (the same floats)."""
        return self._values[: len(self._positions)]

    def _mirror(self) -> None:  # derived from counts, never pickled
        self._positions = Positions(self.counts)
        self._values = np.array(list(self.counts.values()), dtype=np.float64)

    @property
    def max_count(self) -> float:
        """The most popular item's (decayed) count: :meth:`score` divides by it."""
        return self._max

    def score(self, item_id: str) -> float:
        """Popularity relative to the most popular item, in [0, 1]."""
        return self.counts.get(item_id, 0.0) / self._max if self._max > 0 else 0.0

    def ranked(self, where: Callable[[str], bool] | None = None) -> Iterator[str]:
        """Items from most to least popular (optionally only those ``where`` accepts)."""
        order = self.order()
        return iter(order) if where is None else filter(where, order)

    def order(self) -> list[str]:
        """The ranking :meth:`ranked` walks, re-sorted first if it is due (not a copy: read it,
        do not change it). A re-sort replaces the list; a new item is appended to it."""
        # re-sorting costs O(n log n): do it at most once per n / 8 (up to refresh_every) learns
        if self._stale >= min(self.refresh_every, len(self.counts) // 8 + 1):
            # by count, descending, ties by item id: a stable sort of the id-sorted items
            order = sorted(self.counts)
            order.sort(key=self.counts.__getitem__, reverse=True)
            self._order = order
            self._stale = 0
        return self._order

    def top(self, n: int, where: Callable[[str], bool] | None = None) -> list[str]:
        """The ``n`` most popular items (optionally only those ``where`` accepts)."""
        out: list[str] = []
        for item in self.ranked(where):
            if len(out) >= n:
                break
            out.append(item)
        return out

    def __len__(self) -> int:
        return len(self.counts)
