"""Shipments of online orders - shipped, sometimes delayed, delivered - and who complains.

Every web or app order ships within about a day, promised for ``PROMISE_DAYS`` after the order.
A late one (decided with the order: the partner warehouse of big orders is late more often,
see ``aftercare.after_order``, and so are most orders shipped into a regional weather
disruption, as the anniversary gifts were) gets a delay notice before its promised date, with
the new date, and arrives then. Its customer notices when the promised day has passed and the
parcel has not come: one who heard nothing asks where it is (John's storyline: some of them
angrily again two days later) with a chance growing with the delay; one whom an apology for
the order reached before that moment asks ``APOLOGISED_FACTOR`` as often.

The hidden truth (:class:`DelayTruth`) keeps the draw that decided each complaint, so what would
have happened without an apology is known for every order. Every draw about a shipment comes
from a generator seeded with the run and the order id, and complaints are handed out as
replies (``World.emit_reply``): the natural traffic does not depend on what the engine decides.

>>> from itertools import islice
>>> from nextbest.simulation import Shop
>>> shop = Shop(seed=2, customers=300)
>>> families = {e.family for e in islice(shop.events(), 8_000)}
>>> "fulfilment" in families, len(shop.delays()) > 0
(True, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.records import fulfilment, ref
from nextbest.simulation.world import HOUR_MS, World

PROMISE_DAYS = 3.0
CARRIERS = ("DHL", "UPS", "DPD", "GLS")
REASONS, REASON_WEIGHTS = ("carrier", "warehouse", "stock"), (5, 3, 2)
"""Why an order outside a weather disruption is late, and how often."""
SILENT_BASE, SILENT_PER_DAY, SILENT_MAX = 0.35, 0.1, 0.85
"""Chance that a customer who heard nothing asks where a late order is: base plus per day of
delay, at most the maximum."""
APOLOGISED_FACTOR = 0.25
"""How much less often a customer asks when an apology reached them first."""
WEATHER_EVERY_DAYS = 40.0
"""Mean days between regional weather disruptions (each 2-4 days in one country)."""
WEATHER_LATE = 0.8
"""Share of the orders shipped into a disruption that are late."""

Complaint = Callable[["DelayTruth", random.Random, int], None]
"""The storyline of a customer who asks where their late order is (called at that moment, with
the order's truth and its generator)."""


@dataclass(slots=True)
class DelayTruth:
    """One late order as it truly went, with what would have happened without an apology."""

    order_id: str
    customer_id: str
    noticed_at: int
    """When the shop published the delay (its delay notice)."""
    promised: int
    expected: int
    reason: str
    asks_at: int
    """When the customer notices the promised day has passed (if the parcel has not come)."""
    delivered_at: int
    would_complain: bool
    """Without an apology: the parcel not there at ``asks_at`` and the draw under the chance."""
    would_complain_apologised: bool
    """With an apology that reached them in time (the same draw, the lower chance)."""
    apologised_at: int | None = None
    """When an apology for this order reached the customer, if one did before ``asks_at``."""
    complained: bool | None = None
    """What happened (None until ``asks_at`` has passed)."""

    @property
    def delay_days(self) -> float:
        return (self.expected - self.promised) / DAY_MS


def complaint_chance(delay_days: float, apologised: bool) -> float:
    """The chance that a customer asks where a late order is.

    >>> round(complaint_chance(3.0, False), 2), round(complaint_chance(3.0, True), 4)
    (0.65, 0.1625)
    """
    silent = min(SILENT_MAX, SILENT_BASE + SILENT_PER_DAY * delay_days)
    return silent * APOLOGISED_FACTOR if apologised else silent


def ship(w: World, persona: Persona, order_id: str, ordered_at: int, *, late: bool,
         complain: Complaint) -> None:
    """Schedule an online order's shipment events (and, if late, who asks about it)."""
    rng = random.Random(f"{w.tag}|{order_id}")
    customer = ref(customer_id=persona.customer_id, email=persona.email)
    shipped_at = ordered_at + int(rng.uniform(3.0, 28.0) * HOUR_MS)
    promised = ordered_at + int(PROMISE_DAYS * DAY_MS)
    carrier = rng.choice(CARRIERS)
    tracking = f"https://track.example/{carrier.lower()}/{order_id}"
    weather = _weather_hits(w, persona.country, shipped_at)
    if weather and rng.random() < WEATHER_LATE:
        late, reason, delay = True, "weather", rng.uniform(2.0, 5.0)
    else:
        reason, delay = rng.choices(REASONS, REASON_WEIGHTS)[0], rng.uniform(1.0, 6.0)
    draw = rng.random()  # decides the complaint: one draw, with or without an apology

    def emit(kind: str, at: int, **fields: Any) -> None:
        w.emit(at, persona.idx, "fulfilment", fulfilment(
            f"ev-{w.tag}-{order_id}-{kind}", at, customer, kind, order_id=order_id,
            carrier=carrier, tracking_url=tracking, promised_delivery=promised, **fields))

    emit("shipped", shipped_at, expected_delivery=promised)
    if not late:
        emit("delivered", ordered_at + int(rng.uniform(1.5, PROMISE_DAYS) * DAY_MS))
        return
    expected = promised + int(delay * DAY_MS)
    noticed_at = min(shipped_at + int(rng.uniform(2.0, 30.0) * HOUR_MS), promised - 3 * HOUR_MS)
    delivered_at = expected - int(rng.uniform(0.0, 12.0) * HOUR_MS)
    asks_at = w.awake(persona, promised + int(rng.uniform(2.0, 20.0) * HOUR_MS), rng=rng)
    emit("delayed", noticed_at, expected_delivery=expected, delay_reason=reason)
    emit("delivered", delivered_at)
    arrived = asks_at >= delivered_at
    truth = DelayTruth(
        order_id, persona.customer_id, noticed_at, promised, expected, reason, asks_at,
        delivered_at, not arrived and draw < complaint_chance(delay, False),
        not arrived and draw < complaint_chance(delay, True))
    w.delays[order_id] = truth
    w.schedule(asks_at, persona.idx, partial(_notice, w, persona, truth, rng, complain))


def _notice(w: World, persona: Persona, truth: DelayTruth, rng: random.Random,
            complain: Complaint, time_ms: int) -> None:
    """The promised day has passed: does the customer ask where the order is?"""
    apologised = w.apologies.get(truth.order_id)
    if apologised is not None and apologised <= time_ms:
        truth.apologised_at = apologised
    truth.complained = (truth.would_complain_apologised if truth.apologised_at is not None
                        else truth.would_complain)
    if truth.complained and not w.erased[persona.idx]:
        complain(truth, rng, time_ms)


def _weather_hits(w: World, country: str, time_ms: int) -> bool:
    """Whether a weather disruption holds up parcels to ``country`` at ``time_ms``."""
    if w.weather is None:
        w.weather = _disruptions(w)
    return any(start <= time_ms < end and where == country for start, end, where in w.weather)


def _disruptions(w: World) -> list[tuple[int, int, str]]:
    """Three years of regional weather disruptions from the first shipment, each in one
    country: (start, end, country)."""
    rng = random.Random(f"{w.tag}|weather")
    countries = sorted({p.country for p in w.personas})
    out: list[tuple[int, int, str]] = []
    t = w.now
    while t < w.now + 3 * 365 * DAY_MS:
        t += int(rng.expovariate(1.0 / WEATHER_EVERY_DAYS) * DAY_MS)
        out.append((t, t + int(rng.uniform(2.0, 4.0) * DAY_MS), rng.choice(countries)))
    return out
