"""The synthetic shop: a seeded, deterministic, endless stream of customer events."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

from nextbest.simulation.catalog import Item, build_items, catalog_event
from nextbest.simulation.customers import DAY_MS, Persona, build_personas, build_truth
from nextbest.simulation.fulfilment import DelayTruth
from nextbest.simulation.malformed import malformed
from nextbest.simulation.model import MalformedMessage, ShopTruth, SimEvent
from nextbest.simulation.response import Delivery, Inbox
from nextbest.simulation.traffic import Traffic
from nextbest.simulation.world import Reply, World

DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
REFERENCE_RATE = 100.0  # events per wall-clock second that time_scale refers to


class Shop:
    """A web shop with stores, its customers and their support desk, as event streams.

    Parameters (keyword only):

    - ``seed``: everything follows from it; the same parameters give the same stream.
    - ``customers``: how many customers ("C00000" ...). They set the floor of traffic per
      simulated day (their purchases, returns, support contacts, newsletter opens).
    - ``items``: catalog size, spread over eight categories.
    - ``start_time_ms``: event time (epoch ms, UTC) at which the stream starts.
    - ``time_scale``: simulated seconds per wall-clock second when the stream is published at
      the reference rate of 100 events/s. The shop aims at one event per ``time_scale / 100``
      simulated seconds: it tops the customers' own traffic up with window-shopping visits.
      Published at R events/s, simulated time runs ``time_scale * R / 100`` times faster than
      the clock (default 14,400: 4 simulated hours per second at 100 events/s, 600 events per
      simulated day). When the customers alone produce more, nothing is added and simulated time
      runs slower than asked; fewer customers speed it up. The shop's own shipment events
      (``fulfilment``) come on top: they stand in for no customer's visit.
    - ``malformed_share``: share of all messages that are broken copies of the event just
      before them (the real event is never lost); 0 for none.

    Decisions can be delivered back into the latest ``events()`` stream with ``deliver``; the
    customers respond (or not) by the hidden model of ``simulation.response``, and ``deliveries``
    and ``natural_orders`` tell what truly happened, for measuring uplift.
    """

    def __init__(self, *, seed: int = 7, customers: int = 500, items: int = 200,
                 start_time_ms: int = DEFAULT_START_MS, time_scale: float = 14_400.0,
                 malformed_share: float = 0.0) -> None:
        if customers < 1 or items < 1:
            raise ValueError("a shop needs at least one customer and one item")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if not 0.0 <= malformed_share < 1.0:
            raise ValueError("malformed_share must be in [0, 1)")
        self.seed = seed
        self.start_time_ms = start_time_ms
        self.time_scale = time_scale
        self.malformed_share = malformed_share
        traits = random.Random(seed)
        self._items: tuple[Item, ...] = build_items(traits, items)
        self._personas: tuple[Persona, ...] = build_personas(traits, customers, start_time_ms)
        self._truth = build_truth(self._personas)
        self._persona_of = {p.customer_id: p for p in self._personas}
        self._inbox: Inbox | None = None  # of the latest events() stream
        # Ids carry a tag of the parameters, so two different runs never share an event id.
        params = f"{seed}|{customers}|{items}|{start_time_ms}|{time_scale}"
        self._tag = hashlib.blake2b(params.encode(), digest_size=4).hexdigest()

    @property
    def events_per_day(self) -> float:
        """Target number of events per simulated day."""
        return REFERENCE_RATE * DAY_MS / 1000.0 / self.time_scale

    def catalog(self) -> list[SimEvent]:
        """The initial catalog (every item with its stock), stamped one minute before the start."""
        time_ms = self.start_time_ms - 60_000
        return [
            catalog_event(item, event_id=f"cat-{self._tag}-{item.item_id}", time_ms=time_ms,
                          kind="item", stock=item.stock)
            for item in self._items
        ]

    def events(self) -> Iterator[SimEvent | MalformedMessage]:
        """The endless stream, in non-decreasing event time. Each call starts from the beginning."""
        world = World(rng=random.Random(self.seed * 1_000_003 + 1), tag=self._tag,
                      start_ms=self.start_time_ms, items=self._items, personas=self._personas)
        self._inbox = Inbox(world, seed=self.seed)
        traffic = Traffic(world, start_ms=self.start_time_ms, events_per_day=self.events_per_day)
        traffic.start()
        # Own generator for the broken copies: the real events do not depend on the share.
        broken = random.Random(self.seed * 1_000_003 + 2)
        odds = self.malformed_share / (1.0 - self.malformed_share)
        erased, natural_orders = world.erased, world.natural_orders
        while True:
            time_ms, owner, work = world.pop()
            if isinstance(work, SimEvent):
                if owner >= 0 and erased[owner]:
                    continue  # erased customers leave no further trace
                if work.family != "fulfilment":  # the shop's doing, not a visit's
                    traffic.emitted += 1
                if work.family == "purchase" and owner >= 0 and work.event["kind"] == "order":
                    natural_orders[owner].append((time_ms, work.event["total"]))
                yield work
                if odds and broken.random() < odds:
                    yield malformed(broken, work)
            elif isinstance(work, Reply):
                # Caused by a delivered decision: neither counted towards the visit rate nor
                # given a broken copy, so the natural traffic stays as it was.
                if owner < 0 or not erased[owner]:
                    yield work.event
            else:
                work(time_ms)

    def truth(self) -> ShopTruth:
        """The hidden truth: each customer's traits, and which identifiers belong to whom."""
        return self._truth

    def persona(self, customer_id: str) -> Persona:
        """The hidden traits of one of the shop's customers ("C00042"): for measuring only."""
        return self._persona_of[customer_id]

    def customer_of(self, identifier: str) -> str | None:
        """The shop's customer id ("C00042") behind any identifier value; None if unknown."""
        return self._truth.owner_of.get(identifier)

    def deliver(self, customer_id: str, decision: Mapping[str, Any]) -> None:
        """Deliver a decision (a ``Decision.to_record()`` dict) to a customer of the latest stream.

        Call it between two events of ``events()``: the opens, clicks and any response order it
        causes come later in that stream, at or after ``decided_at``. A decision id already
        delivered is ignored.
        """
        if self._inbox is None:
            raise RuntimeError("deliver needs a started events() stream")
        persona = self._persona_of.get(customer_id)
        if persona is None:
            raise ValueError(f"unknown customer {customer_id!r}")
        self._inbox.deliver(persona, decision)

    def deliveries(self) -> list[Delivery]:
        """The truth about every decision delivered to the latest stream, in delivery order."""
        return list(self._inbox.deliveries.values()) if self._inbox is not None else []

    def delays(self) -> list[DelayTruth]:
        """The truth about every late order of the latest stream so far, in order of the order:
        when it was noticed, promised and delivered, who asked and what they would have done
        without an apology."""
        return list(self._inbox.world.delays.values()) if self._inbox is not None else []

    def natural_orders(self, customer_id: str) -> list[tuple[int, float]]:
        """(event time, total) of the customer's own orders handed out so far, without responses.

        These are the orders the customer would have made had nothing been delivered.
        """
        persona = self._persona_of.get(customer_id)
        if persona is None:
            raise ValueError(f"unknown customer {customer_id!r}")
        if self._inbox is None:
            return []
        return list(self._inbox.world.natural_orders[persona.idx])
