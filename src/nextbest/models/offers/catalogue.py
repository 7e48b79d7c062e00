"""The offer catalogue: incentives the engine may give, and what each one costs the business.

The catalogue lives in configuration: :func:`parse_offers` reads a JSON list (the value of a
setting such as ``NEXTBEST_OFFERS``) and :data:`DEFAULT_OFFERS` applies when none is set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

OFFER_KINDS = ("discount", "free_shipping", "upgrade", "loyalty_reward")
_FIELDS = ("offer_id", "kind", "title", "percent", "fixed_cost", "category")


@dataclass(frozen=True, slots=True)
class Offer:
    """One incentive: a percentage off the basket (``discount``) or a fixed cost to the business
    (``free_shipping``, ``upgrade``, ``loyalty_reward``, the latter optionally tied to a
    category)."""

    offer_id: str
    kind: str
    title: str
    percent: float = 0.0
    fixed_cost: float = 0.0
    category: str | None = None

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"offer {self.offer_id!r}: {problem}")


def _problem(offer: Offer) -> str | None:
    if not isinstance(offer.offer_id, str) or not offer.offer_id.strip():
        return "offer_id must be a non-empty string"
    if offer.kind not in OFFER_KINDS:
        return f"kind must be one of {', '.join(OFFER_KINDS)}, got {offer.kind!r}"
    if not isinstance(offer.title, str) or not offer.title.strip():
        return "title must be a non-empty string"
    for name in ("percent", "fixed_cost"):
        value = getattr(offer, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value) or value < 0:
            return f"{name} must be a finite number >= 0, got {value!r}"
    if offer.kind == "discount":
        if not 0 < offer.percent < 100:
            return f"a discount needs a percent between 0 and 100, got {offer.percent!r}"
        if offer.fixed_cost:
            return "a discount costs its percent of the basket; fixed_cost must be 0"
    elif offer.percent:
        return f"percent applies to discounts only, not to {offer.kind}"
    if offer.category is not None and (
            offer.kind != "loyalty_reward" or not isinstance(offer.category, str)
            or not offer.category):
        return "category is a non-empty string and applies to loyalty rewards only"
    return None


def cost(offer: Offer, basket_value: float) -> float:
    """What the incentive costs the business on a basket of ``basket_value`` (currency units).

    >>> cost(Offer("d10", "discount", "10% off", percent=10), 80.0)
    8.0
    >>> cost(Offer("ship", "free_shipping", "Free shipping", fixed_cost=4.9), 80.0)
    4.9
    """
    if offer.kind == "discount":
        return max(0.0, basket_value) * offer.percent / 100.0
    return offer.fixed_cost


DEFAULT_OFFERS: tuple[Offer, ...] = (
    Offer("discount-10", "discount", "10% off your next order", percent=10.0),
    Offer("discount-20", "discount", "20% off your next order", percent=20.0),
    Offer("free-shipping", "free_shipping", "Free shipping on your next order", fixed_cost=4.9),
    Offer("upgrade", "upgrade", "Free upgrade to express delivery and gift wrap", fixed_cost=8.0),
    Offer("loyalty-points", "loyalty_reward", "Double loyalty points this month", fixed_cost=3.0),
    Offer("loyalty-gift", "loyalty_reward", "A free gift with your next order", fixed_cost=6.0),
)


def parse_offers(text: str) -> tuple[Offer, ...]:
    """The catalogue from a JSON list of offers (the format of ``NEXTBEST_OFFERS``).

    >>> (offer,) = parse_offers('[{"offer_id": "d15", "kind": "discount", "title": "15% off", '
    ...                         '"percent": 15}]')
    >>> offer.kind, offer.percent, cost(offer, 40.0)
    ('discount', 15.0, 6.0)
    """
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"offers are not valid JSON: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError("offers must be a non-empty JSON list of objects")
    offers: list[Offer] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        offer = _parse_entry(index, entry)
        if offer.offer_id in seen:
            raise ValueError(f"offer {index}: offer_id {offer.offer_id!r} appears twice")
        seen.add(offer.offer_id)
        offers.append(offer)
    return tuple(offers)


def _parse_entry(index: int, entry: Any) -> Offer:
    if not isinstance(entry, dict):
        raise ValueError(f"offer {index}: expected an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ValueError(f"offer {index}: unknown field(s) {', '.join(unknown)}; "
                         f"known: {', '.join(_FIELDS)}")
    missing = [name for name in ("offer_id", "kind", "title") if name not in entry]
    if missing:
        raise ValueError(f"offer {index}: missing field(s) {', '.join(missing)}")
    values = {k: v for k, v in entry.items() if v is not None or k == "category"}
    for name in ("percent", "fixed_cost"):
        if type(values.get(name)) is int:
            values[name] = float(values[name])
    try:
        return Offer(**values)
    except ValueError as error:
        raise ValueError(f"offer {index}: {error}") from None
