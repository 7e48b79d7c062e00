"""Hypothesis strategies of valid events, in the shape of the schemas' families.

Each event is built by the builders of ``tests/events.py`` from drawn values and then passed
through the codec's normalizer, so it is exactly what the codec hands the engine (and a strategy
that drew an invalid event would fail loudly). Customers are drawn from small pools of
identifiers in varying case and format, so events of one person meet, and identifiers seen
together merge customers; times move on by plausible steps, now and then a little backwards
(event time is not arrival order); amounts are prices of a shop; texts are what customers write,
and anything else.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nextbest.codec import default_codec
from tests import events

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
SECOND, HOUR = 1_000, 3_600_000

EMAILS = ("lisa@example.com", "LISA@example.com ", "john@example.org", "hannah@example.net")
PHONES = ("+49 170 1234567", "+491701234567", "+44 20 7946 0018")
DEVICES = ("dev-a", "dev-b", "dev-c")
NUMBERS = ("C-1", "C-2")
ITEMS = (("dress-1", "dresses"), ("dress-2", "dresses"), ("headphones-1", "audio"),
         ("tent-1", "outdoor"), ("bag-1", "outdoor"), ("coffee-1", "grocery"))
TEXTS = (
    "Where is my parcel? It is two weeks late.",
    "I will call my lawyer if I do not get my money back.",
    "The dress arrived with a broken zip, I want a refund.",
    "Thank you, that solved it!",
    "Great headphones, love them.",
    "Terrible service, never again.",
    "Can I change the size of my order?",
    "hi",
)
STEPS = (0, SECOND, 60 * SECOND, 10 * 60 * SECOND, HOUR, 6 * HOUR, 24 * HOUR, 7 * 24 * HOUR,
         35 * 24 * HOUR, -10 * 60 * SECOND, -HOUR)
"""How far event time moves from one event to the next (a lapse is 28+ days of silence)."""

customers = st.fixed_dictionaries({}, optional={
    "email": st.sampled_from(EMAILS), "phone": st.sampled_from(PHONES),
    "device_id": st.sampled_from(DEVICES), "customer_id": st.sampled_from(NUMBERS),
    "loyalty_id": st.just("L-7"), "pos_id": st.just("POS-9"),
}).filter(bool)
"""A customer reference with one or more identifiers."""
items = st.sampled_from(ITEMS)
prices = st.floats(min_value=0.5, max_value=900.0).map(lambda price: round(price, 2))
texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=120))
maybe_texts = st.one_of(st.none(), texts)


@st.composite
def clicks(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    item_id, category = draw(items)
    action = draw(_mostly(("product_view", "add_to_cart", "email_open", "email_click"),
                          _symbols("clickstream", "action")))
    event = events.click(time, action, item_id=item_id, category=category, price=draw(prices),
                         customer=customer)
    event["quantity"] = draw(st.none() | st.integers(1, 5))
    event["query"] = draw(maybe_texts) if action == "search" else None
    return event


@st.composite
def orders(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    kind = draw(_mostly(("order",), _symbols("purchase", "kind")))
    reason = draw(st.sampled_from(_symbols("purchase", "return_reason"))) \
        if kind in ("return", "refund") else None
    event = events.order(time, draw(st.sampled_from(("o-1", "o-2", "o-3"))), kind=kind,
                         reason=reason, customer=customer,
                         channel=draw(st.sampled_from(_symbols("purchase", "channel"))))
    lines = draw(st.lists(st.tuples(items, st.integers(1, 3), prices), min_size=1, max_size=3))
    event["lines"] = [{"item_id": item_id, "category": category, "quantity": quantity,
                       "unit_price": price} for (item_id, category), quantity, price in lines]
    event["total"] = round(sum(q * p for _, q, p in lines), 2)
    event["discount_codes"] = draw(st.lists(st.sampled_from(("WELCOME10", "BACK15")),
                                            max_size=1))
    return event


@st.composite
def support_steps(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    event = events.support(
        time, draw(st.sampled_from(("conv-1", "conv-2"))), draw(maybe_texts),
        kind=draw(_mostly(("message", "resolved"), _symbols("support", "kind"))),
        author=draw(_mostly(("customer",), _symbols("support", "author"))),
        refund=draw(st.none() | prices), customer=customer,
        order_id=draw(st.none() | st.sampled_from(("o-1", "o-2"))))
    event["channel"] = draw(st.sampled_from(_symbols("support", "channel")))
    return event


@st.composite
def reviews(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    item_id, _ = draw(items)
    event = events.review(time, item_id, draw(st.integers(1, 5)), draw(maybe_texts),
                          customer=customer)
    event["source"] = draw(st.sampled_from(_symbols("review", "source")))
    return event


@st.composite
def identities(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(_symbols("identity", "kind")))
    channel = draw(st.sampled_from(("email", "sms", "push", "phone", "post", "all"))) \
        if kind.startswith("consent") else None
    event = events.identity(time, kind, customer=customer, channel=channel)
    event["timezone"] = draw(st.sampled_from((None, "Europe/Berlin", "America/New_York",
                                              "Asia/Tokyo")))
    return event


@st.composite
def shipments(draw: st.DrawFn, time: int, customer: dict[str, Any]) -> dict[str, Any]:
    kind = draw(_mostly(("shipped", "delayed"), _symbols("fulfilment", "kind")))
    promised = time + draw(st.sampled_from((-24 * HOUR, 24 * HOUR, 72 * HOUR)))
    if kind == "delayed":  # a delay names both dates, the new one later
        expected: int | None = promised + draw(st.sampled_from(
            (HOUR, 24 * HOUR, 72 * HOUR, 144 * HOUR)))
    else:
        expected = draw(st.sampled_from((None, promised)))
    return events.shipment(
        time, draw(st.sampled_from(("o-1", "o-2", "o-3"))), kind,
        promised=promised if kind == "delayed" or draw(st.booleans()) else None,
        expected=expected, customer=customer,
        reason=draw(st.none() | st.sampled_from(_symbols("fulfilment", "delay_reason"))),
        carrier=draw(st.sampled_from((None, "DHL"))),
        tracking_url=draw(st.sampled_from((None, "https://track.example/1"))))


FAMILIES = {"clickstream": clicks, "purchase": orders, "support": support_steps,
            "review": reviews, "identity": identities, "fulfilment": shipments}


@st.composite
def catalog_items(draw: st.DrawFn, time: int) -> dict[str, Any]:
    item_id, category = draw(items)
    return {"event_id": f"cat-{item_id}-{time}", "event_time": time, "kind": "item",
            "item_id": item_id, "name": item_id, "category": category, "price": draw(prices),
            "tags": [], "stock": draw(st.sampled_from((0, 3, 100))), "consumable": False}


@st.composite
def event_sequences(draw: st.DrawFn, *, max_size: int = 30, catalog: bool = True
                    ) -> list[tuple[str, dict[str, Any]]]:
    """(family, event) pairs with unique event ids, as the codec decodes them."""
    codec = default_codec()
    time = T0 + draw(st.integers(0, 24)) * HOUR
    sequence = []
    if catalog:
        for _ in range(draw(st.integers(0, 3))):
            sequence.append(("catalog", draw(catalog_items(time - HOUR))))
    for index in range(draw(st.integers(1, max_size))):
        time = max(T0, time + draw(st.sampled_from(STEPS)))
        family = draw(st.sampled_from(sorted(FAMILIES)))
        event = draw(FAMILIES[family](time, draw(customers)))
        event["event_id"] = f"ev-{index}"
        if family == "review":
            event["review_id"] = f"r-{index}"
        sequence.append((family, codec.normalize(family, event)))
    return sequence


def _mostly(common: tuple[str, ...], every: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of ``every``, the ``common`` ones about half of the time."""
    return st.one_of(st.sampled_from(common), st.sampled_from(every))


def _symbols(family: str, field: str) -> tuple[str, ...]:
    """The enum symbols of one field of a family's schema (nullable enums too)."""
    definition = default_codec().registry.local.latest(family).definition
    (kind,) = [f["type"] for f in definition["fields"] if f["name"] == field]
    branches = kind if isinstance(kind, list) else [kind]
    (enum,) = [b for b in branches if isinstance(b, dict) and b.get("type") == "enum"]
    return tuple(enum["symbols"])
