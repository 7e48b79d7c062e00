"""Catalog attributes and content-based scores for customers with thin histories.

An item is described by its category, tags and price band; a customer's taste
is the recency-weighted sum of the descriptions of the items in their history
(computed on the fly from the history the caller passes, so nothing is stored
per customer). The score is the cosine between taste and description.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


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

    def upsert(self, item_id: str, *, category: str | None = None, tags: Iterable[str] = (),
               price: float | None = None, in_stock: bool = True) -> Item:
        """Add or replace an item (a catalog event is the whole current state of the item)."""
        item = Item(item_id, category, tuple(dict.fromkeys(tags)), price, in_stock)
        self.items[item_id] = item
        self.features[item_id] = self._describe(item)
        if in_stock:
            self.out_of_stock.discard(item_id)
        else:
            self.out_of_stock.add(item_id)
        return item

    def in_stock(self, item_id: str) -> bool:
        """Unknown items count as in stock: the catalog may lag the interactions."""
        return item_id not in self.out_of_stock

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
