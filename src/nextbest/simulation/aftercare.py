"""What follows an order: returns and refunds, support conversations and reviews.

The storylines of the use cases live here: Lisa's defective dress (a return with reason
``defective``, sometimes preceded by a complaint), John's late headphones (shipped late, see
``fulfilment.py``; when the shop said nothing he asks where they are, and some write again
angrily two days later), Hannah's address change (a positive conversation).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import partial

from nextbest.simulation import texts
from nextbest.simulation.catalog import CATEGORY_BY_NAME, Item
from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.fulfilment import DelayTruth, ship
from nextbest.simulation.records import Record, purchase, ref, review, support
from nextbest.simulation.world import World

MINUTE_MS = 60_000
Turn = tuple[str, str]  # author, situation (a key of texts.LINES)


ANGRY_AGAIN = 0.4
"""Share of customers asking about a late order who write again, angrily, two days later."""
LEGAL_SHARE = 0.4
"""Share of those angry repeat contacts that threaten legal action."""


@dataclass(frozen=True, slots=True)
class Voice:
    """Where a conversation draws from and whose ids it takes: the world's generator and ids
    (natural traffic), or, with a ``tag``, a generator and ids of its own, its events handed
    out as replies - for conversations that happen or not by what the engine decided."""

    rng: random.Random
    tag: str | None = None
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, w: World, prefix: str) -> str:
        if self.tag is None:
            return w.new_id(prefix)
        return f"{prefix}-{w.tag}-{self.tag}-{next(self.serial)}"


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    time_ms: int
    channel: str  # web, app or pos
    customer: Record
    lines: list[Record]
    total: float


def _days(w: World, low: float, high: float) -> int:
    return int(w.rng.uniform(low, high) * DAY_MS)


def after_order(w: World, persona: Persona, order: Order) -> None:
    """Decide now what will go wrong or right with this order, and schedule it."""
    rng = w.rng
    t0, rating_cap = order.time_ms, 5
    if order.channel != "pos":
        # Big orders (John's headphones) ship from a partner warehouse and are late more often.
        roll = rng.random() - (0.09 if order.total > 200 else 0.0)
        late = roll < 0.06
        ship(w, persona, order.order_id, t0, late=late,
             complain=partial(late_delivery, w, persona, order))
        if late:
            rating_cap = 3
        elif roll < 0.10:
            w.schedule(t0 + int(rng.uniform(10, 60) * MINUTE_MS), persona.idx,
                       partial(address_change, w, persona, order))
        elif roll < 0.12:
            w.schedule(t0 + _days(w, 0.5, 3.0), persona.idx, partial(question, w, persona, order))
    for ln in order.lines:
        sized = CATEGORY_BY_NAME[ln["category"]].sized
        roll = rng.random()
        if roll < 0.03:
            rating_cap = 2
            w.schedule(t0 + _days(w, 2.0, 10.0), persona.idx,
                       partial(defect, w, persona, order, ln))
        elif roll < 0.03 + (0.12 if sized else 0.0):
            w.schedule(t0 + _days(w, 3.0, 12.0), persona.idx,
                       partial(give_back, w, persona, order, [ln], "wrong_size"))
        elif rng.random() < 0.04:
            reason = "changed_mind" if rng.random() < 0.75 else "not_as_described"
            w.schedule(t0 + _days(w, 3.0, 14.0), persona.idx,
                       partial(give_back, w, persona, order, [ln], reason))
    if rng.random() < (0.12 if rating_cap == 5 else 0.3):
        if rating_cap == 5:
            rating = rng.choices((5, 4, 3, 2, 1), weights=(50, 35, 9, 4, 2))[0]
        else:
            rating = rng.randint(1, rating_cap)
        w.schedule(t0 + _days(w, 5.0, 20.0), persona.idx,
                   partial(write_review, w, persona, order, rating))


def conversation(w: World, persona: Persona, time_ms: int, *, channel: str,
                 order_id: str | None, item: Item, turns: list[Turn],
                 refund: float | None = None, legal: bool = False, escalate: bool = False,
                 reply: Voice | None = None) -> int:
    """Opened, the turns, then resolved (escalated to an agent first if asked).

    The first customer turn carries ``refund`` and, if ``legal``, a legal threat. Returns the
    time of the last event. ``reply``: draws, ids and events of the conversation's own, handed
    out as replies (see :class:`Voice`).
    """
    if channel == "sms" and persona.phone is not None:
        customer = ref(phone=persona.phone)
    elif channel == "email":
        customer = ref(email=persona.email)
    else:
        channel = "chat"
        customer = ref(customer_id=persona.customer_id)
    voice = reply or Voice(w.rng)
    conv, rng, owner = voice.new_id(w, "CV"), voice.rng, persona.idx
    emit = w.emit if reply is None else w.emit_reply
    t = w.awake(persona, time_ms, rng=rng)

    def say(kind: str, author: str, text: str | None, refund: float | None = None) -> None:
        emit(t, owner, "support", support(
            voice.new_id(w, "ev"), t, customer, kind, conversation_id=conv, channel=channel,
            author=author, text=text, order_id=order_id, refund_requested=refund))

    say("opened", "customer", None)
    for number, (author, situation) in enumerate(turns):
        t += int(rng.uniform(0.5, 20.0) * MINUTE_MS)
        if escalate and author == "agent":
            say("escalated", "bot", "Passing you to a colleague who can help further.")
            t += int(rng.uniform(1.0, 15.0) * MINUTE_MS)
            escalate = False
        text = texts.line(rng, situation, item=item.name, category=item.category,
                          order=order_id or "my last order", first_name=persona.first_name)
        if number == 0 and legal:
            text = texts.with_legal_threat(rng, text)
        say("message", author, text, refund if number == 0 else None)
    t += int(rng.uniform(1.0, 30.0) * MINUTE_MS)
    say("resolved", "bot" if turns[-1][0] == "bot" else "agent", None)
    return t


def _item(w: World, ln: Record) -> Item:
    return w.items[w.index_of[ln["item_id"]]]


def late_delivery(w: World, persona: Persona, order: Order, late: DelayTruth,
                  rng: random.Random, time_ms: int) -> None:
    """John: a polite "where is it?", a bot answer, and, for some whose parcel has still not
    come, an angry repeat contact two days later (``fulfilment.py`` decides who asks at all)."""
    channel = "sms" if persona.phone is not None else rng.choice(("chat", "email"))
    first = Voice(rng, f"{order.order_id}-asks")
    end = conversation(w, persona, time_ms, channel=channel, order_id=order.order_id,
                       item=_item(w, order.lines[0]), reply=first,
                       turns=[("customer", "late_first"), ("bot", "reply_late_bot")])
    at = end + int(rng.uniform(1.2, 2.2) * DAY_MS)
    if rng.random() < ANGRY_AGAIN and at < late.delivered_at:
        w.schedule(at, persona.idx, partial(_angry_followup, w, persona, order, channel, rng))


def _angry_followup(w: World, persona: Persona, order: Order, channel: str,
                    rng: random.Random, time_ms: int) -> None:
    if w.erased[persona.idx]:
        return
    conversation(w, persona, time_ms, channel=channel, order_id=order.order_id,
                 item=_item(w, order.lines[0]), reply=Voice(rng, f"{order.order_id}-again"),
                 turns=[("customer", "late_angry"), ("agent", "reply_late_agent")],
                 refund=order.total if rng.random() < (0.7 if order.total > 150 else 0.3)
                 else None,
                 legal=rng.random() < LEGAL_SHARE, escalate=rng.random() < 0.3)


def address_change(w: World, persona: Persona, order: Order, time_ms: int) -> None:
    """Hannah: a quick fix, a happy customer, a resolved conversation."""
    conversation(w, persona, time_ms, channel="chat", order_id=order.order_id,
                 item=_item(w, order.lines[0]), turns=[
                     ("customer", "address_change"), ("agent", "reply_address"),
                     ("customer", "thanks")])


def question(w: World, persona: Persona, order: Order, time_ms: int) -> None:
    happy = w.rng.random() < 0.5
    conversation(w, persona, time_ms, channel=w.rng.choice(("chat", "email")),
                 order_id=order.order_id, item=_item(w, order.lines[0]),
                 turns=[("customer", "question"), ("bot", "reply_question")]
                 + ([("customer", "thanks")] if happy else []))


def defect(w: World, persona: Persona, order: Order, ln: Record, time_ms: int) -> None:
    """Lisa: the item broke; sometimes a complaint first, then the return and the refund."""
    rng, t = w.rng, time_ms
    if rng.random() < 0.5:
        amount = round(ln["unit_price"] * ln["quantity"], 2)
        t = conversation(w, persona, t, channel=rng.choice(("chat", "email", "sms")),
                         order_id=order.order_id, item=_item(w, ln),
                         turns=[("customer", "defect"), ("agent", "reply_defect")],
                         refund=amount if rng.random() < 0.6 else None)
        t += _days(w, 0.2, 2.0)
    give_back(w, persona, order, [ln], "defective", t)


def give_back(w: World, persona: Persona, order: Order, lines: list[Record], reason: str,
              time_ms: int) -> None:
    """A return (in store for store shoppers, mostly), then the refund of the same amount."""
    rng = w.rng
    in_store = persona.pos_id is not None and (order.channel == "pos" or rng.random() < 0.5)
    if in_store:
        customer = ref(pos_id=persona.pos_id, loyalty_id=persona.loyalty_id)
    else:
        customer = ref(customer_id=persona.customer_id, email=persona.email)
    channel = "pos" if in_store else order.channel if order.channel != "pos" else "web"
    t = w.awake(persona, time_ms)
    amount = sum(ln["unit_price"] * ln["quantity"] for ln in lines)
    w.emit(t, persona.idx, "purchase", purchase(
        w.new_id("ev"), t, customer, "return", order_id=order.order_id, lines=lines,
        total=amount, channel=channel, return_reason=reason))
    if rng.random() < 0.1:  # a slow refund makes for an unhappy "returns" contact
        conversation(w, persona, t + _days(w, 6.0, 8.0), channel="email",
                     order_id=order.order_id, item=_item(w, lines[0]),
                     turns=[("customer", "slow_refund"), ("agent", "reply_refund")])
        t += _days(w, 9.0, 12.0)
    t += _days(w, 1.0, 3.0)
    w.emit(t, persona.idx, "purchase", purchase(
        w.new_id("ev"), t, customer, "refund", order_id=order.order_id, lines=lines,
        total=amount, channel=channel, return_reason=reason))


def write_review(w: World, persona: Persona, order: Order, rating: int, time_ms: int) -> None:
    rng = w.rng
    ln = rng.choice(order.lines)
    source = rng.choices(("site", "google", "survey"), weights=(6, 2, 2))[0]
    customer = (ref(customer_id=persona.customer_id) if source == "site"
                else ref(email=persona.email))
    t = w.awake(persona, time_ms)
    text = texts.review_text(rng, rating, item=_item(w, ln).name)
    w.emit(t, persona.idx, "review", review(
        w.new_id("ev"), t, customer, review_id=w.new_id("R"), item_id=ln["item_id"],
        rating=rating, text=text, source=source))


def lapse_complaint(w: World, persona: Persona, time_ms: int) -> None:
    """Friction before leaving: a negative contact weeks before the customer lapses."""
    rng = w.rng
    situation = rng.choice(("complaint_pricing", "complaint_staff", "complaint_returns",
                            "complaint_quality"))
    index = w.pick_item(persona, explore=0.0)
    conversation(w, persona, time_ms, channel=rng.choice(("email", "chat")), order_id=None,
                 item=w.items[index if index is not None else 0],
                 turns=[("customer", situation), ("agent", "reply_complaint")])
