"""The synthetic shop's customers: hidden traits and the identifiers they use."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from itertools import accumulate
from types import MappingProxyType

from nextbest.simulation.catalog import CATEGORY_NAMES
from nextbest.simulation.model import CustomerTruth, ShopTruth

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ENGAGEMENT_FADE_DAYS = 42.0  # engagement withdrawal starts 4-8 weeks before a lapse

# (IANA zone, country, UTC offset in hours ignoring DST, mobile prefix of a fictional range)
ZONES: tuple[tuple[str, str, int, str], ...] = (
    ("Europe/Berlin", "DE", 1, "+4915550"),
    ("Europe/London", "GB", 0, "+4477009"),
    ("Europe/Paris", "FR", 1, "+3363998"),
    ("Europe/Madrid", "ES", 1, "+3460099"),
    ("Europe/Amsterdam", "NL", 1, "+3161299"),
    ("Europe/Stockholm", "SE", 1, "+4670179"),
    ("America/New_York", "US", -5, "+1212555"),
)
ZONE_WEIGHTS = (30, 20, 15, 10, 10, 5, 10)
FIRST_NAMES = ("Lisa", "John", "Hannah", "Mara", "Tom", "Aisha", "Lukas", "Sofia", "Noah",
               "Emma", "Omar", "Julia", "Liam", "Chloe", "Mateo", "Ines", "Finn", "Yara")
LAST_NAMES = ("Meyer", "Smith", "Dubois", "Garcia", "Jansen", "Berg", "Miller", "Novak",
              "Rossi", "Weber", "Brown", "Moreau")
TIERS = (("high", 0.2, 7.0, 30.0), ("mid", 0.5, 10.0, 60.0), ("low", 0.3, 20.0, 90.0))
INBOX_HOURS = tuple(range(7, 23))
INBOX_WEIGHTS = (3, 5, 3, 1, 1, 3, 2, 1, 1, 1, 1, 2, 4, 5, 3, 1)
"""When customers read their email (local hour): before work, at lunch, in the evening."""
FRESH_HOURS = 3.0
"""An email that arrives this many hours before the customer reads email is ~37% less fresh."""
BURIED_OPEN_SHARE = 0.6
"""How likely an email buried under a day of others is still opened, against a fresh one."""


@dataclass(frozen=True, slots=True)
class Persona:
    """Everything the simulation knows about one customer (traits and identifiers)."""

    idx: int
    customer_id: str
    first_name: str
    email: str
    phone: str | None
    devices: tuple[str, ...]
    loyalty_id: str | None
    pos_id: str | None
    app_user: bool
    store_share: float  # share of purchases made in a store (pos)
    open_rate: float  # newsletter open probability when fully engaged
    activity: float  # relative weight of browsing visits
    preferences: tuple[float, ...]  # aligned with CATEGORY_NAMES
    cum_pref: tuple[float, ...]
    price_sensitive: bool
    gap_days: float
    tier: str
    will_lapse: bool
    lapse_ms: int | None
    timezone: str
    country: str
    offset_ms: int
    consents: tuple[str, ...]
    inbox_hour: int = 19
    """The local hour the customer reads email at (drawn apart from the shop's generator)."""

    def inbox_check(self, time_ms: int) -> int:
        """When the customer next reads email at or after ``time_ms`` (start of the hour; an
        email arriving during that hour is read in it)."""
        local = time_ms + self.offset_ms
        start = local - local % DAY_MS + self.inbox_hour * HOUR_MS
        if local >= start + HOUR_MS:
            start += DAY_MS
        return max(time_ms, start - self.offset_ms)

    def freshness(self, time_ms: int) -> float:
        """How an email arriving at ``time_ms`` fares against one arriving as the customer
        reads email: 1.0 then, towards ``BURIED_OPEN_SHARE`` the longer it waits."""
        hours = (self.inbox_check(time_ms) - time_ms) / HOUR_MS
        return BURIED_OPEN_SHARE + (1.0 - BURIED_OPEN_SHARE) * math.exp(-hours / FRESH_HOURS)

    def engagement(self, time_ms: int) -> float:
        """1.0 while engaged; fades linearly in the weeks before a lapse, near zero after."""
        if self.lapse_ms is None:
            return 1.0
        days_left = (self.lapse_ms - time_ms) / DAY_MS
        if days_left >= ENGAGEMENT_FADE_DAYS:
            return 1.0
        if days_left > 0:
            return 0.1 + 0.9 * days_left / ENGAGEMENT_FADE_DAYS
        return 0.03

    def identifiers(self) -> tuple[str, ...]:
        values = (self.customer_id, self.email, self.phone, *self.devices, self.loyalty_id,
                  self.pos_id)
        return tuple(v for v in values if v is not None)

    def truth(self) -> CustomerTruth:
        return CustomerTruth(
            customer_id=self.customer_id,
            preferences=MappingProxyType(dict(zip(CATEGORY_NAMES, self.preferences, strict=True))),
            price_sensitive=self.price_sensitive,
            mean_gap_days=self.gap_days,
            value_tier=self.tier,
            will_lapse=self.will_lapse,
            lapse_time_ms=self.lapse_ms,
            timezone=self.timezone,
            country=self.country,
            identifiers=self.identifiers(),
            inbox_hour=self.inbox_hour,
        )


def _unique(rng: random.Random, seen: set[str], make: str, digits: int) -> str:
    while True:
        value = f"{make}{rng.randrange(10**digits):0{digits}d}"
        if value not in seen:
            seen.add(value)
            return value


def build_personas(rng: random.Random, count: int, start_ms: int) -> tuple[Persona, ...]:
    seen: set[str] = set()
    personas: list[Persona] = []
    for idx in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        zone, country, offset_h, prefix = rng.choices(ZONES, weights=ZONE_WEIGHTS)[0]
        tier, _, gap_low, gap_high = rng.choices(TIERS, weights=[t[1] for t in TIERS])[0]
        gap_days = round(math.exp(rng.uniform(math.log(gap_low), math.log(gap_high))), 2)
        # Dirichlet(0.5): most customers care about two or three categories.
        raw = [rng.gammavariate(0.5, 1.0) + 1e-6 for _ in CATEGORY_NAMES]
        total = sum(raw)
        prefs = tuple(round(w / total, 4) for w in raw)
        will_lapse = rng.random() < {"high": 0.2, "mid": 0.3, "low": 0.4}[tier]
        lapse_ms = start_ms + int(gap_days * rng.uniform(2.0, 6.0) * DAY_MS) if will_lapse else None
        phone = f"{prefix}{idx:05d}" if rng.random() < 0.65 else None
        app_user = rng.random() < 0.4
        devices = tuple(f"D{rng.getrandbits(48):012x}" for _ in range(rng.randint(1, 3)))
        store = rng.random() < 0.35
        consents = ["email"] if rng.random() < 0.75 else []
        if phone is not None and rng.random() < 0.45:
            consents.append("sms")
        if app_user and rng.random() < 0.6:
            consents.append("push")
        personas.append(Persona(
            idx=idx,
            customer_id=f"C{idx:05d}",
            first_name=first,
            email=f"{first.lower()}.{last.lower()}{idx}@example.com",
            phone=phone,
            devices=devices,
            loyalty_id=_unique(rng, seen, "L", 8) if store or rng.random() < 0.3 else None,
            pos_id=_unique(rng, seen, "P", 8) if store else None,
            app_user=app_user,
            store_share=rng.uniform(0.3, 0.9) if store else 0.0,
            open_rate=rng.uniform(0.1, 0.6),
            activity=math.exp(rng.gauss(0.0, 0.6)),
            preferences=prefs,
            cum_pref=tuple(accumulate(prefs)),
            price_sensitive=rng.random() < {"high": 0.15, "mid": 0.4, "low": 0.6}[tier],
            gap_days=gap_days,
            tier=tier,
            will_lapse=will_lapse,
            lapse_ms=lapse_ms,
            timezone=zone,
            country=country,
            offset_ms=offset_h * 3_600_000,
            consents=tuple(consents),
            inbox_hour=random.Random(f"inbox|{devices[0]}").choices(
                INBOX_HOURS, weights=INBOX_WEIGHTS)[0],
        ))
    return tuple(personas)


def build_truth(personas: tuple[Persona, ...]) -> ShopTruth:
    owner_of: dict[str, str] = {}
    for p in personas:
        for value in p.identifiers():
            owner_of[value] = p.customer_id
    customers = {p.customer_id: p.truth() for p in personas}
    return ShopTruth(customers=MappingProxyType(customers), owner_of=MappingProxyType(owner_of))
