"""Does the session's context make recommendations better? Measured on the synthetic shop.

The shop's traffic runs through the engine in-process (identity resolution, profiles, the
models learning; no policies, so nothing is delivered and the traffic is the shop's own). Every
product view and add-to-cart of a customer the engine knows is a moment a decision could carry
recommendations: a next best offer fires on a view, a cart reminder follows an add. At each
such moment the recommender ranks its top 10 for the customer once per way of giving it
context, and each ranking is later held against the same target: the next item the customer
goes on to view, add or buy that is new at that moment (neither bought before nor already met
in the session), within ``HORIZON_MS``. Every variant answers the same moments of the same run.

Variants of context (``CONTEXTS``):

* ``history``: the customer's purchases only, no context;
* ``event``: the item of the event itself, as a next best offer passes it today;
* ``session``: the items viewed or added in the current visit so far (the profile's
  ``current_visit``), oldest first, as context (added to the history);
* ``visit``: the same items as the recommender's ``visit`` (what the customer looks for now,
  scored apart from the history), as decisions pass it;
* ``event+visit``: both the event's item as context and the visit, as a next best offer passes
  them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nextbest.driver import InProcess
from nextbest.engine import Engine
from nextbest.errors import UnprocessableEvent
from nextbest.settings import DAY_MS
from nextbest.simulation import Shop, SimEvent

HORIZON_MS = 7 * DAY_MS
"""How long a moment waits for its target; moments with none by then are left out."""
CUTS = (3, 10)
ITEM_ACTIONS = frozenset({"product_view", "add_to_cart"})

Context = Callable[[dict[str, Any], list[str]], dict[str, Any]]
CONTEXTS: dict[str, Context] = {
    "history": lambda event, session: {},
    "event": lambda event, session: {"context": [event["item_id"]]},
    "session": lambda event, session: {"context": list(session)},
    "visit": lambda event, session: {"visit": list(session)},
    "event+visit": lambda event, session: {"context": [event["item_id"]],
                                           "visit": list(session)},
}


@dataclass(slots=True)
class _Moment:
    at: int
    session_id: str | None
    known: frozenset[str]
    ranked: dict[str, list[str]]


@dataclass(slots=True)
class Tally:
    """Hits at each cut per variant, over the moments that found their target."""

    moments: int = 0
    hits: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, ranked: dict[str, list[str]], target: str) -> None:
        self.moments += 1
        for name, items in ranked.items():
            cuts = self.hits.setdefault(name, dict.fromkeys(CUTS, 0))
            for cut in CUTS:
                cuts[cut] += target in items[:cut]

    def rate(self, name: str, cut: int) -> float:
        return self.hits[name][cut] / self.moments if self.moments else 0.0


@dataclass(slots=True)
class SessionReport:
    seed: int
    all: Tally
    in_session: Tally
    """The moments whose target came in the same session."""
    expired: int
    recommend_us: dict[str, float]
    """Mean wall-clock cost of one recommendation, per variant."""

    def render(self) -> str:
        lines = [f"seed {self.seed}: {self.all.moments} moments with a target "
                 f"({self.in_session.moments} in the same session, {self.expired} without)"]
        for name in CONTEXTS:
            rates = [f"{tally.rate(name, cut):.3f}" for tally in (self.all, self.in_session)
                     for cut in CUTS]
            lines.append(f"  {name:11s} HR@3/@10 {rates[0]} {rates[1]}  same session "
                         f"{rates[2]} {rates[3]}  {self.recommend_us[name]:.0f} us/call")
        return "\n".join(lines)


def measure(*, seed: int, customers: int, days: int) -> SessionReport:
    shop = Shop(seed=seed, customers=customers)
    engine = Engine(policies=[])
    loop = InProcess(engine)
    for listed in shop.catalog():
        loop.feed(listed.family, listed.event)
    end = shop.start_time_ms + days * DAY_MS
    pending: dict[str, list[_Moment]] = {}  # shop customer -> moments awaiting a target
    everything, same, expired = Tally(), Tally(), 0
    spent = dict.fromkeys(CONTEXTS, 0.0)
    calls = 0
    for message in shop.events():
        if not isinstance(message, SimEvent):
            continue
        family, event = message.family, message.event
        now = int(event["event_time"])
        if now >= end:
            break
        try:
            fed = loop.feed(family, event)
        except UnprocessableEvent:
            continue
        items = _items_of(family, event)
        owner = _owner(shop, event.get("customer")) if items else None
        if owner is None:
            continue
        waiting = pending.get(owner, [])
        session_id = (event.get("context") or {}).get("session_id")
        for item in items:
            still = []
            for moment in waiting:
                if now - moment.at > HORIZON_MS:
                    expired += 1
                elif item in moment.known:
                    still.append(moment)
                else:
                    everything.add(moment.ranked, item)
                    if session_id is not None and session_id == moment.session_id:
                        same.add(moment.ranked, item)
            waiting = still
        pending[owner] = waiting
        if family != "clickstream" or fed.customer_id is None:
            continue
        profile = loop.profiles.get(fed.customer_id)
        if profile is None:
            continue
        met = profile.current_visit(now)
        ranked: dict[str, list[str]] = {}
        for name, context in CONTEXTS.items():
            started = time.perf_counter()
            picks = engine.models.recommend(profile, max(CUTS), **context(event, met))
            spent[name] += time.perf_counter() - started
            ranked[name] = [r.item_id for r in picks]
        calls += 1
        waiting.append(_Moment(now, session_id, frozenset([*profile.items_bought, *met]),
                               ranked))
    expired += sum(len(w) for w in pending.values())
    cost = {name: 1e6 * spent[name] / calls if calls else 0.0 for name in CONTEXTS}
    return SessionReport(seed, everything, same, expired, cost)


def _items_of(family: str, event: dict[str, Any]) -> list[str]:
    if family == "clickstream" and event["action"] in ITEM_ACTIONS and event.get("item_id"):
        return [event["item_id"]]
    if family == "purchase" and event["kind"] == "order":
        return [line["item_id"] for line in event.get("lines") or []]
    return []


def _owner(shop: Shop, customer: dict[str, Any] | None) -> str | None:
    for value in (customer or {}).values():
        if value and (owner := shop.customer_of(value)) is not None:
            return owner
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args(argv)
    for seed in args.seeds:
        print(measure(seed=seed, customers=args.customers, days=args.days).render(), flush=True)


if __name__ == "__main__":
    main()
