"""The hidden response model: which delivered decisions make a customer buy once more.

A response is incremental by construction: an extra order the customer would not otherwise have
made. The customer's own purchase rhythm goes on untouched, so a report can compare what the
shop did with a message against what it would have done without (the natural orders).

Every draw about one delivery comes from a generator seeded with the shop seed and the decision
id, so the outcome of a decision does not depend on which other decisions were delivered, and
the natural traffic (drawn from the world's generator) does not depend on any of them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import Any

import orjson

from nextbest.simulation.catalog import CATEGORY_NAMES
from nextbest.simulation.customers import DAY_MS, ENGAGEMENT_FADE_DAYS, Persona
from nextbest.simulation.offer_fit import offer_fit
from nextbest.simulation.records import Record, click, context, line, purchase, ref
from nextbest.simulation.world import HOUR_MS, World

MINUTE_MS = 60_000
MAX_PROBABILITY = 0.6
MESSAGE_CHANNELS = ("email", "sms", "push")
MESSAGE_ACTIONS = frozenset({"send_message"})  # the actions whose message reaches the customer
OUTREACH_PROBABILITY = 0.25  # a personal call or note from staff (a win-back "create_task")
BASE_PROBABILITY: Mapping[str, float] = MappingProxyType({
    "cart_reminder": 0.20,
    "winback": 0.08,
    "next_best_offer": 0.06,
    "loyalty_reward": 0.05,
    "service_recovery": 0.10,
    "delay_apology": 0.05,  # the gesture's discount, used now and then
    "review_request": 0.0,
    "thank_you": 0.0,
})
CLICKS_PER_ORDER = 3.0  # a third of those who click an offer buy because of it
MAX_CLICK = 0.9
FAVOURITE_BONUS = 0.2  # per favourite category the message names (at most two count)
DEFAULT_DISCOUNT_PERCENT = 10.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """The truth about one delivered decision: how likely a response was and what came of it.

    ``probability`` is 0 when the decision never reached the customer (an agent's task, an
    erased customer, a revoked channel). ``response_at`` and ``response_revenue`` describe the
    extra order, if any.
    """

    decision_id: str
    customer_id: str  # the shop's id ("C00042")
    decision_type: str
    offer_kind: str | None
    decided_at: int
    probability: float
    responded: bool
    response_at: int | None
    response_revenue: float
    open_chance: float = 0.0
    """The chance an email was opened, as sent (0 for other channels)."""
    best_open_chance: float = 0.0
    """The chance it would have had, sent as the customer reads email (the truth of send time)."""
    opened: bool = False


def response_probability(persona: Persona, decision_type: str, *, offer_kind: str | None,
                         categories: tuple[str, ...], time_ms: int,
                         action: str = "send_message") -> float:
    """The chance that this decision, delivered at ``time_ms``, causes one extra purchase.

    Only messages (``send_message``) and a win-back's personal outreach (``create_task``) reach
    the customer; work for agents never does. The chance grows with engagement, with an offer
    that fits the customer (:func:`~nextbest.simulation.offer_fit.offer_fit`: price
    sensitivity, device, app, country, time of day) and with the customer's favourite
    categories named in the message.
    """
    if action == "create_task":
        base = OUTREACH_PROBABILITY if decision_type == "winback" else 0.0
    elif action in MESSAGE_ACTIONS:
        base = BASE_PROBABILITY.get(decision_type, 0.0)
    else:
        base = 0.0
    if base <= 0.0:
        return 0.0
    p = base * (0.3 + 0.7 * persona.engagement(time_ms))
    if decision_type == "winback":
        p *= _winback_timing(persona, time_ms)
    if offer_kind is not None:
        p *= offer_fit(persona, offer_kind, time_ms)
    p *= 1.0 + FAVOURITE_BONUS * _favourites_named(persona, categories)
    return min(max(p, 0.0), MAX_PROBABILITY)


def _click_without_order(probability: float) -> float:
    """The chance that a customer who does not buy still clicks the offer: clicks on an offer
    come ``CLICKS_PER_ORDER`` times as often as the orders it causes (at most ``MAX_CLICK``)."""
    clicks = min(CLICKS_PER_ORDER * probability, MAX_CLICK)
    return max(0.0, (clicks - probability) / (1.0 - probability)) if probability < 1.0 else 0.0


def _winback_timing(persona: Persona, time_ms: int) -> float:
    """Win-backs work best on customers drifting away before their lapse, little long after."""
    if persona.lapse_ms is None:
        return 0.5  # not leaving: little to win back
    days_after = (time_ms - persona.lapse_ms) / DAY_MS
    if days_after < -ENGAGEMENT_FADE_DAYS:
        return 0.5  # not drifting yet
    if days_after <= 0.0:
        return 1.5
    return max(0.2, 1.5 * math.exp(-days_after / 30.0))


def _favourites_named(persona: Persona, categories: Iterable[str]) -> int:
    ranked = sorted(range(len(CATEGORY_NAMES)), key=lambda i: -persona.preferences[i])
    favourites = {CATEGORY_NAMES[i] for i in ranked[:2]}
    return min(len(favourites.intersection(categories)), 2)


def _payload(raw: object) -> dict[str, Any]:
    if isinstance(raw, str | bytes):
        raw = orjson.loads(raw)
    return raw if isinstance(raw, dict) else {}


class Inbox:
    """The customers' side of delivered decisions, for one run of the shop's world.

    Events it causes are ``Reply`` work in the world: they carry the decision id, take no stock,
    draw nothing from the world's generator and use ids of their own, so the natural traffic is
    the same with or without deliveries.
    """

    def __init__(self, world: World, *, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.deliveries: dict[str, Delivery] = {}  # by decision id, in delivery order

    def deliver(self, persona: Persona, decision: Mapping[str, Any]) -> None:
        """Schedule the opens, clicks and response order one decision causes (once per id)."""
        decision_id = str(decision["decision_id"])
        if decision_id in self.deliveries:
            return
        w, idx = self.world, persona.idx
        payload = _payload(decision.get("payload"))
        offer = payload.get("offer") if isinstance(payload.get("offer"), dict) else None
        offer_kind = str(offer["kind"]) if offer and offer.get("kind") else None
        named = self._named_items(payload)
        categories = self._categories(payload, offer, named)
        decision_type, action = str(decision["decision_type"]), str(decision.get("action"))
        channel = decision.get("channel")
        sent_at = max(int(decision["decided_at"]), w.now)
        outreach = decision_type == "winback" and action == "create_task"
        reaches = not w.erased[idx] and (outreach or (
            action in MESSAGE_ACTIONS and _reachable(persona, channel)
            and (idx, channel) not in w.revoked))
        probability = response_probability(
            persona, decision_type, offer_kind=offer_kind, categories=categories,
            time_ms=sent_at, action=action) if reaches else 0.0
        delivery = Delivery(decision_id=decision_id, customer_id=persona.customer_id,
                            decision_type=decision_type, offer_kind=offer_kind,
                            decided_at=int(decision["decided_at"]), probability=probability,
                            responded=False, response_at=None, response_revenue=0.0)
        self.deliveries[decision_id] = delivery
        if not reaches:
            return
        if decision_type == "delay_apology" and isinstance(payload.get("order_id"), str):
            # The customer now knows: whether they still ask is simulation/fulfilment.py's.
            w.apologies.setdefault(payload["order_id"], sent_at)
        rng = random.Random(f"{self.seed}|{decision_id}")
        responded = rng.random() < probability
        opened_at: int | None = None
        if not outreach and channel in ("email", "push"):
            best = persona.open_rate * persona.engagement(sent_at)
            chance = best * persona.freshness(sent_at) if channel == "email" else best
            opened = rng.random() < chance
            # Interest in an offer goes with its fit: some who click it do not buy after all.
            clicked = (offer is not None and not responded
                       and rng.random() < _click_without_order(probability))
            if opened or responded or clicked:  # whoever buys or clicks has opened it
                opened_at = self._open(persona, rng, str(channel), sent_at, decision_id,
                                       offer is not None)
            if channel == "email":
                delivery = self.deliveries[decision_id] = replace(
                    delivery, open_chance=chance, best_open_chance=best,
                    opened=opened_at is not None)
            if clicked and opened_at is not None:
                self._click(persona, str(channel), opened_at + int(rng.uniform(10.0, 300.0)
                                                                    * 1000), decision_id)
        if not responded:
            return
        clicked_at = w.awake(persona, (opened_at or sent_at)
                             + int(rng.uniform(0.5, 5.0) * DAY_MS), rng=rng)
        ordered_at = clicked_at + int(rng.uniform(3.0, 15.0) * MINUTE_MS)
        lines = self._basket(persona, rng, named)
        if not lines:
            return  # nothing in stock to buy
        total = sum(ln["quantity"] * ln["unit_price"] for ln in lines)
        codes: list[str] = []
        if offer is not None and offer_kind == "discount":
            percent = float(offer.get("percent") or DEFAULT_DISCOUNT_PERCENT)
            total *= 1.0 - percent / 100.0
            codes = [str(offer.get("code") or offer.get("offer_id") or f"NB{percent:.0f}")]
        shop_channel = "app" if persona.app_user and rng.random() < 0.6 else "web"
        order = purchase(f"ev-{w.tag}-{decision_id}-order", ordered_at,
                         ref(customer_id=persona.customer_id, email=persona.email), "order",
                         order_id=f"O-{w.tag}-{decision_id}", lines=lines, total=total,
                         channel=shop_channel, discount_codes=codes)
        order["decision_id"] = decision_id
        self.deliveries[decision_id] = replace(delivery, responded=True, response_at=ordered_at,
                                               response_revenue=order["total"])
        w.schedule(clicked_at, idx, partial(
            self._respond, persona, decision_id, str(channel) if channel else None,
            offer is not None, order))

    def _respond(self, persona: Persona, decision_id: str, channel: str | None, has_offer: bool,
                 order: Record, time_ms: int) -> None:
        w = self.world
        if w.erased[persona.idx]:  # erased before buying: no response after all
            self.deliveries[decision_id] = replace(self.deliveries[decision_id], responded=False,
                                                   response_at=None, response_revenue=0.0)
            return
        if has_offer:
            self._click(persona, channel, time_ms, decision_id)
        w.emit_reply(order["event_time"], persona.idx, "purchase", order)

    def _click(self, persona: Persona, channel: str | None, time_ms: int,
               decision_id: str) -> None:
        """The customer clicks the offer in the message."""
        who, ctx = _message_context(persona, channel)
        clicked = click(f"ev-{self.world.tag}-{decision_id}-click", time_ms, who, "offer_clicked",
                        ctx=ctx)
        clicked["decision_id"] = decision_id
        self.world.emit_reply(time_ms, persona.idx, "clickstream", clicked)

    def _open(self, persona: Persona, rng: random.Random, channel: str, sent_at: int,
              decision_id: str, has_offer: bool) -> int:
        """Emit the open (and the offer view); returns when the message was opened."""
        w = self.world
        if channel == "email":  # read when the customer reads email, within the hour
            t = persona.inbox_check(sent_at) + int(rng.uniform(1.0, 45.0) * MINUTE_MS)
        else:
            delay = min(rng.expovariate(1.0 / (2 * HOUR_MS)), 3 * DAY_MS)
            t = w.awake(persona, sent_at + int(delay), rng=rng)
        who, ctx = _message_context(persona, channel)
        action = "email_open" if channel == "email" else "push_open"
        opened = click(f"ev-{w.tag}-{decision_id}-open", t, who, action, ctx=ctx)
        opened["decision_id"] = decision_id
        w.emit_reply(t, persona.idx, "clickstream", opened)
        if has_offer:
            viewed_at = t + int(rng.uniform(5.0, 60.0) * 1000)
            viewed = click(f"ev-{w.tag}-{decision_id}-view", viewed_at, who, "offer_viewed",
                           ctx=ctx)
            viewed["decision_id"] = decision_id
            w.emit_reply(viewed_at, persona.idx, "clickstream", viewed)
        return t

    def _named_items(self, payload: dict[str, Any]) -> list[int]:
        """Catalog indices of the items the message names (cart, returned or recommended)."""
        found: list[int] = []
        for key in ("items", "recommendations"):
            entries = payload.get(key)
            for entry in entries if isinstance(entries, list) else ():
                item_id = entry.get("item_id") if isinstance(entry, dict) else entry
                index = self.world.index_of.get(item_id) if isinstance(item_id, str) else None
                if index is not None and index not in found:
                    found.append(index)
        return found

    def _categories(self, payload: dict[str, Any], offer: dict[str, Any] | None,
                    named: list[int]) -> tuple[str, ...]:
        mentioned = [payload.get("last_category"), payload.get("category"),
                     offer.get("category") if offer else None,
                     *(self.world.items[i].category for i in named)]
        return tuple(dict.fromkeys(c for c in mentioned if isinstance(c, str)))

    def _basket(self, persona: Persona, rng: random.Random, named: list[int]) -> list[Record]:
        """One to three lines: items the message named, else what the customer likes."""
        w = self.world
        chosen: dict[int, int] = {}
        for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
            index = rng.choice(named) if named and rng.random() < 0.6 else None
            if index is None or w.stock[index] <= 0:
                index = w.pick_item(persona, rng=rng)
            if index is not None and index not in chosen:
                chosen[index] = rng.randint(1, 2) if w.items[index].consumable else 1
        return [line(w.items[i].item_id, w.items[i].category, quantity, w.items[i].price)
                for i, quantity in chosen.items()]


def _reachable(persona: Persona, channel: object) -> bool:
    """Everyone reads email; a text needs a phone, a push needs the app."""
    return (channel == "email" or (channel == "sms" and persona.phone is not None)
            or (channel == "push" and persona.app_user))


def _message_context(persona: Persona, channel: str | None) -> tuple[Record, Record]:
    """Who a message's tracking knows, and where the customer reads it."""
    if channel == "email":
        who, device = ref(email=persona.email), "desktop"
    elif channel == "push":
        who, device = ref(device_id=persona.devices[0]), "mobile"
    elif channel == "sms" and persona.phone is not None:
        who, device = ref(phone=persona.phone), "mobile"
    else:
        who, device = ref(customer_id=persona.customer_id), "desktop"
    ctx = context(device=device, channel=channel or "web", country=persona.country,
                  timezone=persona.timezone, session_id=None)
    return who, ctx
