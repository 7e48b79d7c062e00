"""Next best offer: an offer catalogue from configuration and a bandit that learns which offer
each kind of customer responds to.

``NextBestOffer`` is the entry point: ``pick`` an offer for a profile within an incentive cap,
``learn`` from its outcome. No per-customer state (nothing to erase); picklable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from nextbest.models.offers.bandit import EXPLORATION, OfferBandit, OfferChoice
from nextbest.models.offers.catalogue import (
    DEFAULT_OFFERS,
    OFFER_KINDS,
    Offer,
    cost,
    parse_offers,
)
from nextbest.models.offers.context import COUNTRY, FEATURES, describe, offer_context
from nextbest.profile.state import CustomerProfile

DEFAULT_BASKET = 50.0
"""Basket value (currency units) assumed for a customer with no orders and an empty cart."""

__all__ = [
    "COUNTRY",
    "DEFAULT_BASKET",
    "DEFAULT_OFFERS",
    "FEATURES",
    "OFFER_KINDS",
    "NextBestOffer",
    "Offer",
    "OfferBandit",
    "OfferChoice",
    "cost",
    "describe",
    "offer_context",
    "parse_offers",
]


class NextBestOffer:
    """The offer catalogue and the bandit choosing among it.

    >>> from nextbest.profile.state import CustomerProfile
    >>> day = 86_400_000
    >>> lisa = CustomerProfile("nb-lisa", orders=4, revenue=240.0, discounted_orders=3,
    ...                        last_order_at=0, gap_count=3, gap_mean_ms=20 * day)
    >>> offers = NextBestOffer(seed=7)
    >>> choice = offers.pick(lisa, 40 * day, kinds={"discount"}, value_cap=15.0,
    ...                      budget_left=100.0)
    >>> choice.offer.kind, choice.cost <= 15.0
    ('discount', True)
    >>> offers.learn(choice.context, choice.offer.offer_id, 1.0)
    True
    >>> offers.stats()[choice.offer.offer_id]["outcomes"]
    1
    """

    def __init__(
        self,
        offers: Iterable[Offer] = DEFAULT_OFFERS,
        *,
        seed: int = 0,
        exploration: float = EXPLORATION,
        default_basket: float = DEFAULT_BASKET,
    ) -> None:
        self.bandit = OfferBandit(seed=seed, exploration=exploration)
        self.default_basket = default_basket
        self.offers: tuple[Offer, ...] = ()
        self.use_offers(offers)

    def use_offers(self, offers: Iterable[Offer]) -> None:
        """Replace the catalogue; what was learnt about offers that remain (by id) is kept."""
        catalogue = tuple(offers)
        ids = [offer.offer_id for offer in catalogue]
        if len(set(ids)) != len(ids):
            raise ValueError("offer ids must be unique in the catalogue")
        self.offers = catalogue
        self.bandit.retain(ids)

    def pick(
        self,
        profile: CustomerProfile,
        now: int,
        *,
        kinds: Collection[str] | None = None,
        value_cap: float,
        budget_left: float,
        basket_value: float | None = None,
    ) -> OfferChoice | None:
        """The offer for this customer at event time ``now``, costing at most
        ``min(value_cap, budget_left)``; None when no eligible offer fits.

        ``kinds`` restricts the offer kinds; a loyalty reward tied to a category is eligible only
        for customers who have shown interest in that category. ``basket_value`` defaults to the
        cart's value, else the customer's average order, else ``default_basket``.
        """
        if kinds is not None and not set(kinds) <= set(OFFER_KINDS):
            unknown = ", ".join(sorted(set(kinds) - set(OFFER_KINDS)))
            raise ValueError(f"unknown offer kind(s): {unknown}")
        eligible = [
            offer for offer in self.offers
            if (kinds is None or offer.kind in kinds)
            and (offer.category is None or profile.category_affinity.get(offer.category, 0) > 0)
        ]
        if not eligible:
            return None
        basket = self.basket_value(profile) if basket_value is None else basket_value
        return self.bandit.choose(offer_context(profile, now), eligible,
                                  max_cost=min(value_cap, budget_left), basket_value=basket)

    def basket_value(self, profile: CustomerProfile) -> float:
        """The basket an offer for this customer is costed on."""
        cart = sum(line.price for line in profile.cart if line.price)
        if cart > 0:
            return float(cart)
        if profile.orders > 0 and profile.revenue > 0:
            return profile.revenue / profile.orders
        return self.default_basket

    def learn(self, context: Mapping[str, float], offer_id: str, reward: float) -> bool:
        """The outcome of an offer made in ``context`` (the choice's ``context``): ``reward`` in
        [0, 1]. Returns False, learning nothing, for an offer no longer in the catalogue."""
        offer = next((o for o in self.offers if o.offer_id == offer_id), None)
        if offer is None:
            return False
        self.bandit.learn(context, offer, reward)
        return True

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per offer: times chosen, outcomes learnt, mean reward."""
        return self.bandit.stats()
