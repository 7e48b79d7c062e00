"""Catalog attributes and content-based scores for customers with thin histories.

An item is described by its category, tags and price band; a customer's taste
is the recency-weighted sum of the descriptions of the items in their history
(computed on the fly from the history the caller passes, so nothing is stored
per customer). The score is the cosine between taste and description.

The descriptions are mirrored in two padded arrays (feature columns and values per item,
in each description's own order), so one taste is scored against the whole catalogue in a
few numpy operations that add the same products in the same order as
:meth:`Catalog.similarity` (the same floats, so the same ranking). The mirror is derived
state: it is rebuilt from the descriptions after unpickling and never stored.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

STOCK_CHANGES_KEPT = 8
"""Changes of stock remembered per item (older moments are answered by the oldest kept)."""


def price_band(price: float | None) -> int | None:
    """Doubling price bands: 1-2 is band 0, 2-4 band 1, 4-8 band 2, ... (None if unknown)."""
    if price is None or price <= 0:
        return None
    return math.floor(math.log2(max(price, 1.0)))


@dataclass(frozen=True, slots=True)
class Item:
    """One catalog entry."""

    item_id: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    price: float | None = None
    in_stock: bool = True


class Catalog:
    """Items by id with their unit-length content descriptions."""

    def __init__(self, *, category_weight: float = 1.0, tag_weight: float = 0.5,
                 price_weight: float = 0.5) -> None:
        self.category_weight = category_weight
        self.tag_weight = tag_weight
        self.price_weight = price_weight
        self.items: dict[str, Item] = {}
        self.features: dict[str, dict[str, float]] = {}
        self.out_of_stock: set[str] = set()
        self.stock_changes: dict[str, list[tuple[int, bool, bool]]] = {}
        """Per item, its last ``STOCK_CHANGES_KEPT`` changes of stock in event time: (when,
        in stock after, in stock before), so a decision asks about stock as it was at its own
        moment, however early the catalog was read (a worker reading a backlog reads the
        catalog ahead of the customers' events)."""
        self._reset_mirror()

    def upsert(self, item_id: str, *, category: str | None = None, tags: Iterable[str] = (),
               price: float | None = None, in_stock: bool = True, at: int | None = None
               ) -> Item:
        """Add or replace an item (a catalog event is the whole current state of the item),
        ``at`` its event time."""
        item = Item(item_id, category, tuple(dict.fromkeys(tags)), price, in_stock)
        self.items[item_id] = item
        self.features[item_id] = described = self._describe(item)
        self._mirror(item_id, described)
        before = item_id not in self.out_of_stock
        if in_stock:
            self.out_of_stock.discard(item_id)
        else:
            self.out_of_stock.add(item_id)
        if at is not None and before != in_stock:
            changes = self.stock_changes.setdefault(item_id, [])
            bisect.insort(changes, (at, in_stock, before))
            del changes[:-STOCK_CHANGES_KEPT]
        return item

    def in_stock(self, item_id: str, at: int | None = None) -> bool:
        """Whether the item is in stock now, or at event time ``at``. Unknown items count as
        in stock: the catalog may lag the interactions.

        >>> catalog = Catalog()
        >>> _ = catalog.upsert("tent", in_stock=False, at=100)
        >>> _ = catalog.upsert("tent", in_stock=True, at=200)
        >>> catalog.in_stock("tent"), catalog.in_stock("tent", 150), catalog.in_stock("tent", 50)
        (True, False, True)
        """
        changes = self.stock_changes.get(item_id) if at is not None else None
        if not changes:
            return item_id not in self.out_of_stock
        after = bisect.bisect_right(changes, (at, True, True))
        return changes[after - 1][1] if after else changes[0][2]

    def category(self, item_id: str) -> str | None:
        item = self.items.get(item_id)
        return None if item is None else item.category

    def taste(self, history: Sequence[str], *, recent: int = 50,
              recency_decay: float = 0.05) -> dict[str, float]:
        """Unit-length, recency-weighted description of the last ``recent`` history items."""
        taste: dict[str, float] = {}
        for rank, item_id in enumerate(reversed(history[-recent:])):
            weight = math.exp(-recency_decay * rank)
            for feature, value in self.features.get(item_id, {}).items():
                taste[feature] = taste.get(feature, 0.0) + weight * value
        return _unit(taste)

    def similarity(self, taste: dict[str, float], item_id: str) -> float:
        """Cosine between a taste and an item's description, in [0, 1]."""
        features = self.features.get(item_id)
        if not features or not taste:
            return 0.0
        return sum(value * taste.get(feature, 0.0) for feature, value in features.items())

    @property
    def rows(self) -> dict[str, int]:
        """Each described item's position in :meth:`similarities`."""
        return self._rows

    @property
    def row_items(self) -> list[str]:
        """The described items by :attr:`rows` position (grows at the end; read, don't change)."""
        return self._ids

    def similarities(self, taste: dict[str, float]) -> list[float]:
        """:meth:`similarity` of ``taste`` to every item, by :attr:`rows` position."""
        result: list[float] = self.similarity_array(taste).tolist()
        return result

    def similarity_array(self, taste: dict[str, float]) -> npt.NDArray[np.float64]:
        """:meth:`similarities` as a numpy array (the same floats)."""
        n = len(self._rows)
        if not n or not taste:
            return np.zeros(n)
        weights = np.zeros(max(1, len(self._columns)))
        columns = self._columns
        for feature, value in taste.items():
            column = columns.get(feature)
            if column is not None:
                weights[column] = value
        index, values = self._index[:n], self._values[:n]
        total = values[:, 0] * weights[index[:, 0]]
        for j in range(1, index.shape[1]):  # left to right, as sum() adds them
            total += values[:, j] * weights[index[:, j]]
        return total

    def _reset_mirror(self) -> None:
        self._rows: dict[str, int] = {}
        self._ids: list[str] = []
        self._columns: dict[str, int] = {}
        self._index: npt.NDArray[np.intp] = np.zeros((0, 1), dtype=np.intp)
        self._values: npt.NDArray[np.float64] = np.zeros((0, 1))
        for item_id, features in self.features.items():
            self._mirror(item_id, features)

    def _mirror(self, item_id: str, features: dict[str, float]) -> None:
        row = self._rows.get(item_id)
        if row is None:
            row = self._rows[item_id] = len(self._rows)
            self._ids.append(item_id)
        rows, width = self._index.shape
        if row >= rows or len(features) > width:  # grow (rows double) or widen, zero-padded
            grown = max(rows, 2 * rows, 64) if row >= rows else rows
            wide = max(width, len(features))
            index = np.zeros((grown, wide), dtype=np.intp)
            values = np.zeros((grown, wide))
            index[:rows, :width] = self._index
            values[:rows, :width] = self._values
            self._index, self._values = index, values
        self._index[row] = 0
        self._values[row] = 0.0  # padding: 0.0 * anything adds nothing
        for j, (feature, value) in enumerate(features.items()):
            column = self._columns.setdefault(feature, len(self._columns))
            self._index[row, j] = column
            self._values[row, j] = value

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()
                if key not in ("_rows", "_ids", "_columns", "_index", "_values")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"stock_changes": {}, **state})  # none before checkpoints had it
        self._reset_mirror()

    def _describe(self, item: Item) -> dict[str, float]:
        features: dict[str, float] = {}
        if item.category:
            features[f"c:{item.category}"] = self.category_weight
        for tag in item.tags:
            features[f"t:{tag}"] = self.tag_weight
        band = price_band(item.price)
        if band is not None:
            features[f"p:{band}"] = self.price_weight
        return _unit(features)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {key: value / norm for key, value in vector.items()} if norm > 0 else {}


def top_interest(taste: dict[str, float]) -> str | None:
    """The category (else tag) that weighs most in a taste, for explanations."""
    for prefix in ("c:", "t:"):
        weights = {key: value for key, value in taste.items() if key.startswith(prefix)}
        if weights:
            return max(sorted(weights), key=weights.__getitem__)[2:]
    return None
