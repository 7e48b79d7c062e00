"""The shop's hidden response to delivered decisions: incremental, honest and self-contained."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import islice, pairwise
from pathlib import Path
from typing import Any, TypeAlias, TypeGuard

import fastavro
import pytest
from fastavro.validation import validate

from nextbest.decisions.record import Decision
from nextbest.simulation import MalformedMessage, Shop, SimEvent
from nextbest.simulation.catalog import CATEGORY_NAMES
from nextbest.simulation.customers import DAY_MS, Persona, build_personas
from nextbest.simulation.offer_fit import offer_fit, phone_share
from nextbest.simulation.response import (
    CLICKS_PER_ORDER,
    MAX_CLICK,
    MAX_PROBABILITY,
    response_probability,
)
from nextbest.simulation.world import HOUR_MS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
START_MS = 1_767_225_600_000
Message: TypeAlias = SimEvent | MalformedMessage


def decision(customer_id: str, time_ms: int, *, decision_type: str = "winback",
             trigger: str = "t0", action: str = "send_message", channel: str | None = "email",
             offer: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A decision record as the engine publishes it (payload as a JSON string)."""
    payload: dict[str, Any] = {"template": decision_type, **extra}
    if offer is not None:
        payload["offer"] = offer
    return Decision.create(
        decision_type=decision_type, customer_id=f"nb-{customer_id}", trigger=trigger,
        action=action, channel=channel, payload=payload, reasons=(), causing_event_id="ev-x",
        causing_event_time=time_ms, decided_at=time_ms, ttl_ms=None).to_record()


def is_reply(message: Message) -> TypeGuard[SimEvent]:
    return isinstance(message, SimEvent) and bool(message.event.get("decision_id"))


def event_time(message: Message) -> int | None:
    return message.event["event_time"] if isinstance(message, SimEvent) else None


def run(shop: Shop, until_day: float,
        deliver: Callable[[Shop, SimEvent, Iterator[Message]], None] | None = None,
        ) -> list[Message]:
    """Every message up to ``until_day``; ``deliver`` sees each event as it is handed out."""
    messages: list[Message] = []
    stream = shop.events()
    end = shop.start_time_ms + int(until_day * DAY_MS)
    for message in stream:
        if isinstance(message, SimEvent) and message.event["event_time"] > end:
            break
        messages.append(message)
        if deliver is not None and isinstance(message, SimEvent):
            deliver(shop, message, stream)
    return messages


def deliver_on_days(days: tuple[float, ...], make: Callable[[Shop, int, int], None]
                    ) -> Callable[[Shop, SimEvent, Iterator[Message]], None]:
    """Call ``make(shop, round, time)`` once at the first event past each of ``days``."""
    pending = list(days)

    def deliver(shop: Shop, event: SimEvent, _: Iterator[Message]) -> None:
        t = event.event["event_time"]
        while pending and t >= shop.start_time_ms + pending[0] * DAY_MS:
            make(shop, len(days) - len(pending), t)
            pending.pop(0)

    return deliver


# --- (a) the response model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def steady() -> Persona:
    """A customer who never lapses, so engagement stays at 1."""
    personas = build_personas(random.Random(3), 200, START_MS)
    return next(p for p in personas if p.lapse_ms is None)


@pytest.mark.parametrize("price_sensitive", [True, False])
def test_the_offer_that_fits_the_customer_works_better(steady: Persona,
                                                       price_sensitive: bool) -> None:
    persona = replace(steady, price_sensitive=price_sensitive)

    def p(offer_kind: str | None) -> float:
        return response_probability(persona, "next_best_offer", offer_kind=offer_kind,
                                    categories=(), time_ms=START_MS)

    if price_sensitive:
        assert p("discount") > p("upgrade")
    else:
        assert p("upgrade") > p("discount")
    assert p("free_shipping") > p(None) > 0.0


def test_where_and_when_the_customer_shops_changes_which_offer_fits(steady: Persona) -> None:
    afternoon = START_MS + 14 * HOUR_MS  # 14:00 in London, 15:00 in Berlin
    calm = replace(steady, price_sensitive=False, app_user=False, country="FR", offset_ms=0,
                   devices=("Da01",))  # one desktop (the last hex digit tells the kind)

    def best(persona: Persona, time_ms: int = afternoon) -> str:
        return max(("discount", "free_shipping", "upgrade", "loyalty_reward"),
                   key=lambda kind: offer_fit(persona, kind, time_ms))

    assert phone_share(calm) == 0.0 and best(calm) == "upgrade"
    on_the_phone = replace(calm, devices=("Da00", "Da03"))
    assert phone_share(on_the_phone) == 1.0 and best(on_the_phone) == "free_shipping"
    assert offer_fit(on_the_phone, "free_shipping", afternoon) == pytest.approx(
        2.0 * offer_fit(calm, "free_shipping", afternoon))
    app = replace(calm, app_user=True)
    assert offer_fit(app, "loyalty_reward", afternoon) == pytest.approx(
        1.5 * offer_fit(calm, "loyalty_reward", afternoon))
    bargain = replace(calm, price_sensitive=True)
    assert best(bargain) == "discount"
    assert offer_fit(replace(bargain, country="DE"), "discount", afternoon) == pytest.approx(
        1.4 * offer_fit(bargain, "discount", afternoon))
    assert best(replace(calm, country="US", devices=("Da00", "Da01"))) == "free_shipping"
    morning, evening = START_MS + 9 * HOUR_MS, START_MS + 19 * HOUR_MS
    assert offer_fit(bargain, "discount", morning) > offer_fit(bargain, "discount", afternoon)
    assert offer_fit(calm, "upgrade", evening) > offer_fit(calm, "upgrade", afternoon)
    assert offer_fit(calm, "discount", evening) == offer_fit(calm, "discount", afternoon)


def test_only_what_reaches_the_customer_can_cause_a_purchase(steady: Persona) -> None:
    def p(decision_type: str, action: str = "send_message") -> float:
        return response_probability(steady, decision_type, offer_kind=None, categories=(),
                                    time_ms=START_MS, action=action)

    assert p("escalation", "route_to_agent") == 0.0
    assert p("support_triage", "draft_for_agent") == 0.0
    assert p("cart_reminder", "route_to_agent") == 0.0
    assert p("escalation", "create_task") == 0.0
    assert p("review_request") == p("thank_you") == 0.0
    assert p("winback", "create_task") > p("winback") > 0.0  # personal outreach is strong
    assert p("cart_reminder") > p("service_recovery") > p("next_best_offer") > 0.0


def test_favourite_categories_and_timing_of_a_winback(steady: Persona) -> None:
    ranked = sorted(zip(steady.preferences, CATEGORY_NAMES, strict=True))
    favourite, least = ranked[-1][1], ranked[0][1]

    def p(categories: tuple[str, ...], persona: Persona = steady, days: float = 0.0) -> float:
        return response_probability(persona, "winback", offer_kind=None, categories=categories,
                                    time_ms=START_MS + int(days * DAY_MS))

    assert p((favourite,)) > p((least,)) == p(())
    lapsing = replace(steady, lapse_ms=START_MS + 60 * DAY_MS)
    drifting, just_lapsed, long_gone = p((), lapsing, 30.0), p((), lapsing, 61.0), p((), lapsing,
                                                                                        150.0)
    assert drifting > p(()) and drifting > just_lapsed > long_gone > 0.0


def test_probabilities_stay_in_bounds(steady: Persona) -> None:
    personas = build_personas(random.Random(5), 100, START_MS)
    kinds = (None, "discount", "upgrade", "free_shipping", "loyalty_reward")
    for persona in personas:
        for decision_type in ("cart_reminder", "winback", "service_recovery", "loyalty_reward"):
            for kind in kinds:
                for action in ("send_message", "create_task"):
                    for days in (0.0, 40.0, 200.0):
                        p = response_probability(
                            persona, decision_type, offer_kind=kind, action=action,
                            categories=("coffee", "books", "shoes"),
                            time_ms=START_MS + int(days * DAY_MS))
                        assert 0.0 <= p <= MAX_PROBABILITY


# --- (b) win-backs cause extra orders at the promised rate ------------------------------------

DISCOUNT = {"offer_id": "discount-10", "kind": "discount", "percent": 10.0}


@pytest.fixture(scope="module")
def winbacks() -> tuple[Shop, list[Message]]:
    """Four win-backs to each of 500 customers on day 2 (half with a discount), run to day 12."""
    def make(shop: Shop, _: int, t: int) -> None:
        for n in range(4):
            for cid in shop.truth().customers:
                shop.deliver(cid, decision(cid, t, trigger=f"w{n}", last_category="coffee",
                                           offer=DISCOUNT if n % 2 else None))

    shop = Shop(seed=5, customers=500)
    return shop, run(shop, 12.0, deliver_on_days((2.0,), make))


def test_winback_response_rate_matches_the_hidden_probability(
        winbacks: tuple[Shop, list[Message]]) -> None:
    shop, messages = winbacks
    deliveries = shop.deliveries()
    assert len(deliveries) == 2_000
    orders = [m for m in messages if is_reply(m) and m.family == "purchase"]
    expected = sum(d.probability for d in deliveries)
    spread = math.sqrt(sum(d.probability * (1.0 - d.probability) for d in deliveries))
    assert expected > 50.0
    assert abs(len(orders) - expected) < 3.0 * spread, (len(orders), expected, spread)
    # The truth tells exactly which deliveries caused which order.
    by_id = {d.decision_id: d for d in deliveries}
    assert {o.event["decision_id"] for o in orders} == {d.decision_id for d in deliveries
                                                        if d.responded}
    for order in orders:
        truth = by_id[order.event["decision_id"]]
        assert order.event["kind"] == "order"
        assert truth.response_at == order.event["event_time"]
        assert truth.response_revenue == order.event["total"] > 0.0
        assert 0.5 * DAY_MS <= order.event["event_time"] - truth.decided_at <= 9 * DAY_MS
        assert shop.customer_of(order.key) == truth.customer_id


def test_response_orders_use_the_offer(winbacks: tuple[Shop, list[Message]]) -> None:
    shop, messages = winbacks
    offered = {d.decision_id for d in shop.deliveries() if d.offer_kind == "discount"}
    assert len(offered) == 1_000
    clicked_at = {m.event["decision_id"]: m.event["event_time"] for m in messages
                  if is_reply(m) and m.event.get("action") == "offer_clicked"}
    orders = [m.event for m in messages if is_reply(m) and m.family == "purchase"]
    assert any(o["decision_id"] in offered for o in orders)
    assert any(o["decision_id"] not in offered for o in orders)
    for order in orders:
        gross = sum(ln["quantity"] * ln["unit_price"] for ln in order["lines"])
        if order["decision_id"] in offered:
            assert order["discount_codes"] == ["discount-10"]
            assert order["total"] == pytest.approx(gross * 0.9, abs=0.01)
            assert clicked_at[order["decision_id"]] < order["event_time"]
        else:
            assert order["discount_codes"] == []
            assert order["total"] == pytest.approx(gross, abs=0.01)
            assert order["decision_id"] not in clicked_at


def test_offers_are_clicked_three_times_as_often_as_they_cause_an_order(
        winbacks: tuple[Shop, list[Message]]) -> None:
    shop, messages = winbacks
    offered = {d.decision_id: d for d in shop.deliveries() if d.offer_kind == "discount"}
    clicked = {m.event["decision_id"] for m in messages
               if is_reply(m) and m.event.get("action") == "offer_clicked"}
    assert clicked <= set(offered)  # only a message with an offer has one to click
    chances = [min(CLICKS_PER_ORDER * d.probability, MAX_CLICK) for d in offered.values()
               if d.probability]
    expected = sum(chances)
    spread = math.sqrt(sum(c * (1.0 - c) for c in chances))
    assert expected > 100.0
    assert abs(len(clicked) - expected) < 3.0 * spread, (len(clicked), expected, spread)
    assert {i for i, d in offered.items() if d.responded} < clicked  # every buyer clicked
    opened = {m.event["decision_id"] for m in messages
              if is_reply(m) and m.event.get("action") == "email_open"}
    assert clicked <= opened


def test_replies_are_valid_events_in_time_order(winbacks: tuple[Shop, list[Message]]) -> None:
    shop, messages = winbacks
    schemas = {f: fastavro.parse_schema(json.loads((SCHEMA_DIR / f"{f}.avsc").read_text()))
               for f in ("clickstream", "purchase")}
    replies = [m for m in messages if is_reply(m)]
    actions = {m.event.get("action") for m in replies}
    assert {"email_open", "offer_viewed", "offer_clicked"} <= actions
    for reply in replies:
        assert validate(reply.event, schemas[reply.family], raise_errors=True)
    times = [t for t in map(event_time, messages) if t is not None]
    assert all(a <= b for a, b in pairwise(times))
    ids = [m.event["event_id"] for m in messages if isinstance(m, SimEvent)]
    assert len(ids) == len(set(ids))
    # Replies come after the delivery, within waking hours of the customer.
    first = min(m.event["event_time"] for m in replies)
    assert first >= shop.start_time_ms + 2 * DAY_MS


# --- (c) the natural traffic does not notice the deliveries -----------------------------------

def test_natural_traffic_is_the_same_with_or_without_deliveries() -> None:
    shop = Shop(seed=9, customers=400, malformed_share=0.02)
    # Recommending the scarce items: responses buy them, yet never sell them out.
    scarce = [{"item_id": e.event["item_id"]} for e in shop.catalog() if e.event["stock"] <= 12]

    def make(shop: Shop, round_: int, t: int) -> None:
        for cid in list(shop.truth().customers)[round_::3]:
            shop.deliver(cid, decision(cid, t, decision_type="cart_reminder",
                                       trigger=f"c{round_}", offer=DISCOUNT,
                                       recommendations=scarce))

    messages = run(shop, 16.0, deliver_on_days((1.0, 4.5, 8.0), make))
    natural = [m for m in messages if not is_reply(m)]
    assert sum(map(is_reply, messages)) > 100
    plain = Shop(seed=9, customers=400, malformed_share=0.02)
    assert natural == list(islice(plain.events(), len(natural)))  # the whole sequence, ids too
    with_orders = [plain.natural_orders(cid) for cid in plain.truth().customers]
    assert sum(map(len, with_orders)) > 100
    assert with_orders == [shop.natural_orders(cid) for cid in shop.truth().customers]
    # Natural orders are exactly the handed-out orders that no decision caused.
    stream_orders = sorted((m.event["event_time"], m.event["total"]) for m in natural
                           if isinstance(m, SimEvent) and m.family == "purchase"
                           and m.event["kind"] == "order")
    assert stream_orders == sorted(o for orders in with_orders for o in orders)


# --- (d) one delivery per decision id ---------------------------------------------------------

def test_delivering_a_decision_twice_changes_nothing() -> None:
    def once(shop: Shop, _: int, t: int) -> None:
        for cid in list(shop.truth().customers)[:150]:
            shop.deliver(cid, decision(cid, t, decision_type="cart_reminder", offer=DISCOUNT))

    def twice(shop: Shop, round_: int, t: int) -> None:
        for cid in list(shop.truth().customers)[:150]:
            record = decision(cid, t, decision_type="cart_reminder", offer=DISCOUNT)
            shop.deliver(cid, record)
            if round_ == 0:
                shop.deliver(cid, {**record, "payload": json.loads(record["payload"])})

    first, second = Shop(seed=4, customers=200), Shop(seed=4, customers=200)
    once_messages = run(first, 10.0, deliver_on_days((1.0,), once))
    twice_messages = run(second, 10.0, deliver_on_days((1.0, 3.0), twice))
    assert sum(map(is_reply, once_messages)) > 20
    assert once_messages == twice_messages
    assert first.deliveries() == second.deliveries()
    assert len(second.deliveries()) == 150


# --- (e) erased customers and revoked channels ------------------------------------------------

ERASED, REVOKED = "C00087", "C00103"  # with seed 6 and 300 customers: erased day 30, revoked 68


@pytest.fixture(scope="module")
def lifecycle_times() -> dict[str, int]:
    """When each customer was erased or revoked a consent, in the plain seeded run."""
    shop, times = Shop(seed=6, customers=300), dict[str, int]()
    for message in run(shop, 70.0):
        if isinstance(message, SimEvent) and message.family == "identity":
            kind, who = message.event["kind"], shop.customer_of(message.event["customer"]["email"])
            if kind in ("erasure_requested", "consent_revoked"):
                times.setdefault(f"{kind}:{who}", message.event["event_time"])
    return times


def test_erased_customers_and_revoked_channels_hear_nothing(
        lifecycle_times: dict[str, int]) -> None:
    erased_at = lifecycle_times[f"erasure_requested:{ERASED}"]
    revoked_at = lifecycle_times[f"consent_revoked:{REVOKED}"]
    shop = Shop(seed=6, customers=300)
    sent: dict[str, list[str]] = {"before": [], "after": [], "consented": [], "revoked": []}

    def deliver(shop: Shop, event: SimEvent, _: Iterator[Message]) -> None:
        t = event.event["event_time"]
        if not sent["consented"] and t >= shop.start_time_ms + DAY_MS:
            record = decision(REVOKED, t, decision_type="cart_reminder", trigger="consented")
            shop.deliver(REVOKED, record)
            sent["consented"].append(record["decision_id"])
        if not sent["before"] and t >= erased_at - 2 * DAY_MS:
            for n in range(40):  # two days before the erasure: most responses would come after
                record = decision(ERASED, t, decision_type="cart_reminder", trigger=f"b{n}",
                                  offer=DISCOUNT)
                shop.deliver(ERASED, record)
                sent["before"].append(record["decision_id"])
        if not sent["after"] and t > erased_at:
            record = decision(ERASED, t, decision_type="cart_reminder", trigger="after")
            shop.deliver(ERASED, record)
            sent["after"].append(record["decision_id"])
        if not sent["revoked"] and t > revoked_at:
            record = decision(REVOKED, t, decision_type="cart_reminder", trigger="revoked")
            shop.deliver(REVOKED, record)
            sent["revoked"].append(record["decision_id"])

    messages = run(shop, 78.0, deliver)
    truth = {d.decision_id: d for d in shop.deliveries()}
    replies = [m for m in messages if is_reply(m)]
    reply_ids = {m.event["decision_id"] for m in replies}
    for decision_id in sent["after"] + sent["revoked"]:
        assert truth[decision_id].probability == 0.0 and not truth[decision_id].responded
        assert decision_id not in reply_ids
    # Delivered before the erasure: replies until then, none after, and the truth agrees.
    before = [truth[i] for i in sent["before"]]
    assert sum(d.probability for d in before) > 8.0
    assert any(i in reply_ids for i in sent["before"])
    assert all(m.event["event_time"] < erased_at for m in replies
               if m.event["decision_id"] in sent["before"])
    responded = {d.decision_id for d in before if d.responded}
    ordered = {m.event["decision_id"] for m in replies if m.family == "purchase"}
    assert responded == ordered & set(sent["before"])
    assert all(d.response_at is not None and d.response_at < erased_at
               for d in before if d.responded)
    # The same email reached the customer before the consent was revoked.
    assert truth[sent["consented"][0]].probability > 0.0


def test_shop_lookups() -> None:
    shop = Shop(seed=2, customers=20)
    with pytest.raises(RuntimeError):
        shop.deliver("C00001", decision("C00001", shop.start_time_ms))
    assert shop.deliveries() == [] and shop.natural_orders("C00001") == []
    email = next(v for v in shop.truth().customers["C00003"].identifiers if "@" in v)
    assert shop.customer_of(email) == "C00003"
    assert shop.customer_of("nobody@example.com") is None
    next(iter(shop.events()))
    with pytest.raises(ValueError):
        shop.deliver("C99999", decision("C99999", shop.start_time_ms))
