"""The synthetic shop's assortment: categories, items and catalog events."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from nextbest.simulation.model import SimEvent


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    price_low: float
    price_high: float
    consumable: bool
    sized: bool  # fit matters, so "wrong_size" returns happen
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    tags: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("dresses", 35.0, 180.0, False, True,
             ("Floral", "Linen", "Satin", "Wrap", "Midi", "Pleated", "Velvet", "Denim"),
             ("Dress", "Maxi Dress", "Shirt Dress", "Slip Dress"),
             ("summer", "evening", "casual", "office", "organic-cotton")),
    Category("shoes", 45.0, 220.0, False, True,
             ("Leather", "Suede", "Canvas", "Trail", "Classic", "Chunky", "Minimal"),
             ("Sneakers", "Loafers", "Boots", "Sandals", "Runners"),
             ("waterproof", "vegan", "handmade", "everyday")),
    Category("headphones", 25.0, 420.0, False, False,
             ("Aurora", "Pulse", "Studio", "Nimbus", "Echo", "Vector"),
             ("ANC Headphones", "Earbuds", "Over-Ear Headphones", "Sport Earphones"),
             ("wireless", "noise-cancelling", "bluetooth", "hi-res")),
    Category("beauty", 6.0, 65.0, True, False,
             ("Vibrant", "Velvet", "Glow", "Hydra", "Nude", "Rose"),
             ("Eyeshadow Palette", "Serum", "Lipstick", "Face Cream", "Mascara"),
             ("vegan", "cruelty-free", "sensitive-skin", "fragrance-free")),
    Category("home", 12.0, 240.0, False, False,
             ("Oak", "Stoneware", "Linen", "Nordic", "Copper", "Ceramic"),
             ("Lamp", "Vase", "Throw Blanket", "Serving Bowl", "Cushion", "Mirror"),
             ("handmade", "sustainable", "gift", "minimal")),
    Category("books", 7.0, 38.0, False, False,
             ("Quiet", "Winter", "Hidden", "Last", "Northern", "Small"),
             ("Garden", "Journey", "Kitchen", "Orchard", "Harbour", "Library"),
             ("fiction", "cooking", "travel", "bestseller", "paperback")),
    Category("coffee", 6.0, 28.0, True, False,
             ("Ethiopia", "Colombia", "Espresso", "Decaf", "House", "Guatemala"),
             ("Beans 250g", "Beans 1kg", "Ground 500g", "Capsules x20"),
             ("single-origin", "organic", "fair-trade", "dark-roast", "light-roast")),
    Category("sports", 14.0, 160.0, False, False,
             ("Pro", "Flex", "Trail", "Core", "Aero", "Peak"),
             ("Yoga Mat", "Running Jacket", "Water Bottle", "Gym Bag", "Resistance Bands"),
             ("outdoor", "recycled", "lightweight", "training")),
)
CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    name: str
    category: str
    price: float
    tags: tuple[str, ...]
    consumable: bool
    stock: int  # initial stock level


def build_items(rng: random.Random, count: int) -> tuple[Item, ...]:
    """Items spread evenly over the categories; prices log-uniform within each category."""
    items: list[Item] = []
    for index in range(count):
        cat = CATEGORIES[index % len(CATEGORIES)]
        low, high = math.log(cat.price_low), math.log(cat.price_high)
        price = round(math.exp(rng.uniform(low, high)), 2) - 0.01
        price = round(max(price, 0.99), 2)
        tags = list(rng.sample(cat.tags, k=min(2, len(cat.tags))))
        relative = (math.log(price) - low) / (high - low)
        if relative > 0.75:
            tags.append("premium")
        elif relative < 0.25:
            tags.append("budget")
        name = f"{rng.choice(cat.adjectives)} {rng.choice(cat.nouns)}"
        # A tenth of the assortment is scarce, so some items sell out during a demo.
        stock = rng.randint(2, 12) if rng.random() < 0.1 else rng.randint(60, 600)
        items.append(Item(item_id=f"I{index + 1:05d}", name=name, category=cat.name,
                          price=price, tags=tuple(tags), consumable=cat.consumable, stock=stock))
    return tuple(items)


def catalog_record(item: Item, *, event_id: str, time_ms: int, kind: str,
                   stock: int) -> dict[str, Any]:
    """A full catalog record.

    Stock events repeat every attribute on purpose: the topic is compacted by item_id, so the
    latest record for an item must be enough to describe it.
    """
    return {
        "event_id": event_id,
        "event_time": time_ms,
        "kind": kind,
        "item_id": item.item_id,
        "name": item.name,
        "category": item.category,
        "price": item.price,
        "tags": list(item.tags),
        "stock": stock,
        "consumable": item.consumable,
    }


def catalog_event(item: Item, *, event_id: str, time_ms: int, kind: str, stock: int) -> SimEvent:
    record = catalog_record(item, event_id=event_id, time_ms=time_ms, kind=kind, stock=stock)
    return SimEvent("catalog", item.item_id, record)
