"""The hidden fit of an offer to a customer: how much more (or less) likely a message with an
offer of a given kind makes this customer buy, than the same message would on average.

The engine never reads these tables; it can only learn them from the outcomes it observes, and
only through what it sees of the customer (the discount codes they used, the device and channel
they shop on, their country, the time of day). The effects are invented for the simulation, each
with a plausible story, and multiply:

* **price sensitivity**: bargain hunters answer discounts, the others an upgrade.
* **device**: customers who shop on a phone answer free shipping (delivery costs are what
  makes them leave a checkout on a small screen); the effect grows with the share of their
  devices that are phones.
* **app**: app users answer loyalty rewards (points and gifts show in the app's wallet).
* **country**: percentage discounts work better in Germany and the Netherlands, free shipping
  in the United States, loyalty rewards in Great Britain.
* **time of day** when the message arrives, in the customer's time zone: a discount reads best
  in the morning, an upgrade (express delivery and gift wrap) in the evening.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.sessions import device_kind
from nextbest.simulation.world import HOUR_MS

# (offer kind, price sensitive) -> multiplier: discounts move bargain hunters, upgrades the others.
PRICE_FIT: Mapping[tuple[str, bool], float] = MappingProxyType({
    ("discount", True): 2.0,
    ("discount", False): 1.1,
    ("upgrade", True): 0.8,
    ("upgrade", False): 1.8,
    ("free_shipping", True): 1.3,
    ("free_shipping", False): 1.2,
    ("loyalty_reward", True): 1.2,
    ("loyalty_reward", False): 1.2,
})
PHONE_FREE_SHIPPING = 1.0
"""Free shipping's multiplier grows by this times the share of the customer's devices that are
phones (x2 for a customer who only has phones)."""
APP_LOYALTY = 1.5
"""Loyalty rewards' multiplier for app users."""
COUNTRY_FIT: Mapping[tuple[str, str], float] = MappingProxyType({
    ("DE", "discount"): 1.4,
    ("NL", "discount"): 1.4,
    ("US", "free_shipping"): 1.5,
    ("GB", "loyalty_reward"): 1.4,
})
TIME_FIT: Mapping[tuple[str, str], float] = MappingProxyType({
    ("morning", "discount"): 1.3,
    ("evening", "upgrade"): 1.4,
})
MORNING_UNTIL, EVENING_FROM = 12, 17
"""Local hours: a message arriving before noon is read in the morning, from 17:00 in the
evening."""


def phone_share(persona: Persona) -> float:
    """Share of the customer's devices that are phones."""
    return sum(device_kind(d) == "mobile" for d in persona.devices) / len(persona.devices)


def time_of_day(persona: Persona, time_ms: int) -> str:
    """``morning``, ``afternoon`` or ``evening`` at ``time_ms`` where the customer lives."""
    hour = ((time_ms + persona.offset_ms) % DAY_MS) / HOUR_MS
    return "morning" if hour < MORNING_UNTIL else "evening" if hour >= EVENING_FROM else "afternoon"


def offer_fit(persona: Persona, offer_kind: str, time_ms: int) -> float:
    """The multiplier an offer of ``offer_kind`` arriving at ``time_ms`` puts on the customer's
    chance to respond.

    >>> import random
    >>> from dataclasses import replace
    >>> from nextbest.simulation.customers import build_personas
    >>> p = replace(build_personas(random.Random(1), 1, 0)[0], price_sensitive=False,
    ...             app_user=False, country="US", offset_ms=0, devices=("D00", "D01"))
    >>> phone_share(p), time_of_day(p, 9 * HOUR_MS)
    (0.5, 'morning')
    >>> round(offer_fit(p, "free_shipping", 9 * HOUR_MS), 2)  # 1.2 * (1 + 0.5) * 1.5
    2.7
    """
    fit = PRICE_FIT.get((offer_kind, persona.price_sensitive), 1.0)
    if offer_kind == "free_shipping":
        fit *= 1.0 + PHONE_FREE_SHIPPING * phone_share(persona)
    if offer_kind == "loyalty_reward" and persona.app_user:
        fit *= APP_LOYALTY
    fit *= COUNTRY_FIT.get((persona.country, offer_kind), 1.0)
    return fit * TIME_FIT.get((time_of_day(persona, time_ms), offer_kind), 1.0)
