"""The running state of one simulation: the event-time agenda, ids, stock and identity links."""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from nextbest.simulation.catalog import CATEGORY_NAMES, Item, catalog_event
from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.model import SimEvent
from nextbest.simulation.records import identity, key_of, ref

if TYPE_CHECKING:
    from nextbest.simulation.fulfilment import DelayTruth

Task = Callable[[int], None]
SHOP = -1  # owner of shop-level work (campaigns, stock, anonymous visitors)
HOUR_MS = 3_600_000
VISIT_FOCUS = 0.7
"""Share of a visit's items from the category the visit is about: a visit browses around one
category (a dress for a wedding, coffee running out), not the customer's whole taste at once."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An event caused by a delivered decision, or one whose happening depends on them (a
    customer asking about a late order the shop may have apologised for): handed out, but not
    natural traffic."""

    event: SimEvent


class World:
    """A discrete-event agenda ordered by event time.

    Work is either a ready ``SimEvent`` or a ``Task`` called with its due time; tasks may push
    more work at or after that time, so events come out in non-decreasing event-time order.
    Ties keep insertion order, which keeps a seeded run reproducible.
    """

    __slots__ = ("_heap", "_seq", "_serial", "all_items", "apologies", "category_pools", "delays",
                 "erased", "index_of", "items", "linked", "natural_orders", "now", "personas",
                 "revoked", "rng", "stock", "tag", "weather")

    def __init__(self, *, rng: random.Random, tag: str, start_ms: int,
                 items: tuple[Item, ...], personas: tuple[Persona, ...]) -> None:
        self.rng = rng
        self.tag = tag
        self.now = start_ms
        self.items = items
        self.personas = personas
        self.stock = [item.stock for item in items]
        # Indexed like CATEGORY_NAMES, so a persona's cumulative preferences pick a pool.
        self.category_pools = [[i for i, item in enumerate(items) if item.category == name]
                               for name in CATEGORY_NAMES]
        self.all_items = list(range(len(items)))
        self.index_of = {item.item_id: i for i, item in enumerate(items)}
        self.linked: list[set[str]] = [set() for _ in personas]  # identifiers already linked
        self.erased = [False] * len(personas)
        self.revoked: set[tuple[int, str]] = set()  # (persona idx, channel) consent withdrawn
        # (event time, total) of each order handed out that the customer's own rhythm made.
        self.natural_orders: list[list[tuple[int, float]]] = [[] for _ in personas]
        # Late orders as they truly went (simulation/fulfilment.py), by order id, and when an
        # apology for an order reached its customer (delivered decisions, simulation/response.py).
        self.delays: dict[str, DelayTruth] = {}
        self.apologies: dict[str, int] = {}
        self.weather: list[tuple[int, int, str]] | None = None
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._serial = 0

    # --- agenda -------------------------------------------------------------------------------
    def schedule(self, time_ms: int, owner: int, task: Task) -> None:
        self._push(time_ms, owner, task)

    def emit(self, time_ms: int, owner: int, family: str, record: dict[str, Any]) -> None:
        self._push(time_ms, owner, SimEvent(family, key_of(record["customer"]), record))

    def emit_reply(self, time_ms: int, owner: int, family: str, record: dict[str, Any]) -> None:
        """Like ``emit``, for an event caused by a delivered decision."""
        self._push(time_ms, owner, Reply(SimEvent(family, key_of(record["customer"]), record)))

    def _push(self, time_ms: int, owner: int, work: object) -> None:
        # Never schedule into the past: the stream promises non-decreasing event time.
        self._seq += 1
        heapq.heappush(self._heap, (max(time_ms, self.now), self._seq, owner, work))

    def pop(self) -> tuple[int, int, Any]:
        time_ms, _, owner, work = heapq.heappop(self._heap)
        self.now = time_ms
        return time_ms, owner, work

    # --- ids ----------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self.tag}-{self._serial:08d}"

    # --- customers ----------------------------------------------------------------------------
    def awake(self, persona: Persona, time_ms: int, rng: random.Random | None = None) -> int:
        """The first moment at or after ``time_ms`` that is 07:00-23:00 in the customer's zone.

        ``rng`` draws the wake-up delay instead of the world's generator.
        """
        local_hour = ((time_ms + persona.offset_ms) % DAY_MS) / HOUR_MS
        if 7.0 <= local_hour < 23.0:
            return time_ms
        wait_hours = (31.0 - local_hour) % 24.0 + (rng or self.rng).uniform(0.0, 3.0)
        return time_ms + int(wait_hours * HOUR_MS)

    def link(self, time_ms: int, persona: Persona, **identifiers: str | None) -> None:
        """Emit an identity link when these identifiers have not all been seen together yet."""
        values = [v for v in identifiers.values() if v is not None]
        known = self.linked[persona.idx]
        if all(v in known for v in values):
            return
        known.update(values)
        record = identity(self.new_id("ev"), time_ms, ref(**identifiers), "link")
        self.emit(time_ms, persona.idx, "identity", record)

    # --- assortment ---------------------------------------------------------------------------
    def visit_intent(self, persona: Persona | None, explore: float = 0.1) -> int:
        """The category a visit is about (an index into ``CATEGORY_NAMES``): drawn like a
        single pick's, so the customer's tastes over many visits stay what they were."""
        return self._category(persona, explore, self.rng)

    def pick_item(self, persona: Persona | None, explore: float = 0.1,
                  rng: random.Random | None = None, intent: int | None = None) -> int | None:
        """An in-stock item from a category the customer likes (``explore``: any category);
        within a visit about ``intent``, mostly from that category (``VISIT_FOCUS``).

        ``rng`` draws instead of the world's generator.
        """
        rng = rng or self.rng
        if intent is not None and rng.random() < VISIT_FOCUS:
            pool = self.category_pools[intent]
        else:
            pool = self.category_pools[self._category(persona, explore, rng)]
        pool = pool or self.all_items
        a, b = rng.choice(pool), rng.choice(pool)
        if persona is not None and (persona.price_sensitive or persona.tier == "low"):
            a = a if self.items[a].price <= self.items[b].price else b
        elif persona is not None and persona.tier == "high":
            a = a if self.items[a].price >= self.items[b].price else b
        if self.stock[a] > 0:
            return a
        return b if self.stock[b] > 0 else None

    def _category(self, persona: Persona | None, explore: float, rng: random.Random) -> int:
        if persona is None or rng.random() < explore:
            return rng.randrange(len(self.category_pools))
        cum = persona.cum_pref
        return min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)

    def take_stock(self, time_ms: int, index: int, quantity: int) -> int:
        """Reserve up to ``quantity``; announce a sell-out and schedule the restock."""
        taken = min(quantity, self.stock[index])
        self.stock[index] -= taken
        if taken and self.stock[index] == 0:
            self._announce_stock(time_ms, index)
            restock_at = time_ms + int(self.rng.uniform(3.0, 14.0) * DAY_MS)
            self.schedule(restock_at, SHOP, partial(self._restock, index))
        return taken

    def _restock(self, index: int, time_ms: int) -> None:
        self.stock[index] = self.items[index].stock
        self._announce_stock(time_ms, index)

    def _announce_stock(self, time_ms: int, index: int) -> None:
        event = catalog_event(self.items[index], event_id=self.new_id("ev"), time_ms=time_ms,
                              kind="stock", stock=self.stock[index])
        self._push(time_ms, SHOP, event)
