"""The shop ships its online orders, some late; customers who hear nothing ask where their order
is, those an apology reached first ask far less - and the rest of the traffic never notices."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from nextbest.simulation import DelayTruth, Shop, SimEvent
from nextbest.simulation.customers import DAY_MS
from nextbest.simulation.fulfilment import APOLOGISED_FACTOR, PROMISE_DAYS
from tests.unit.test_simulation_response import Message, decision, run

DAYS = 45.0


def late_orders(messages: list[Message]) -> dict[str, dict[str, dict[str, Any]]]:
    """Order id -> fulfilment kind -> event, for every order with a delay notice."""
    shipments: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for m in messages:
        if isinstance(m, SimEvent) and m.family == "fulfilment":
            shipments[m.event["order_id"]][m.event["kind"]] = m.event
    return {o: kinds for o, kinds in shipments.items() if "delayed" in kinds}


def asked(messages: list[Message]) -> set[str]:
    """Orders a customer wrote about."""
    return {m.event["order_id"] for m in messages if isinstance(m, SimEvent)
            and m.family == "support" and m.event["author"] == "customer"
            and m.event["kind"] == "message" and m.event["order_id"]}


@pytest.fixture(scope="module")
def silent() -> tuple[Shop, list[Message]]:
    shop = Shop(seed=5, customers=600)
    return shop, run(shop, DAYS)


def test_online_orders_ship_and_late_ones_are_announced_before_their_promised_day(
        silent: tuple[Shop, list[Message]]) -> None:
    shop, messages = silent
    online = {m.event["order_id"] for m in messages if isinstance(m, SimEvent)
              and m.family == "purchase" and m.event["kind"] == "order"
              and m.event["channel"] != "pos"}
    shipped = {m.event["order_id"] for m in messages if isinstance(m, SimEvent)
               and m.family == "fulfilment" and m.event["kind"] == "shipped"}
    assert len(online) > 300 and shipped <= online
    assert len(shipped) > 0.9 * len(online)  # the last days' orders may not have shipped yet
    late = late_orders(messages)
    truth = {d.order_id: d for d in shop.delays()}
    assert 0.04 * len(shipped) < len(late) < 0.3 * len(shipped)
    reasons = set()
    for order_id, kinds in late.items():
        notice, d = kinds["delayed"], truth[order_id]
        assert notice["expected_delivery"] > notice["promised_delivery"] > notice["event_time"]
        assert (d.promised, d.expected, d.noticed_at) == (
            notice["promised_delivery"], notice["expected_delivery"], notice["event_time"])
        assert d.promised - kinds["shipped"]["event_time"] < PROMISE_DAYS * DAY_MS
        if "delivered" in kinds:
            assert kinds["delivered"]["event_time"] == d.delivered_at > d.promised
        reasons.add(d.reason)
    assert "weather" in reasons and len(reasons) >= 3


def test_customers_who_hear_nothing_ask_about_late_orders(
        silent: tuple[Shop, list[Message]]) -> None:
    shop, messages = silent
    end = shop.start_time_ms + int(DAYS * DAY_MS)
    done = [d for d in shop.delays() if d.asks_at < end - 3 * DAY_MS]
    assert all(d.apologised_at is None and d.complained == d.would_complain for d in done)
    complained = {d.order_id for d in done if d.complained}
    assert 0.3 * len(done) < len(complained) < 0.9 * len(done)
    assert complained <= asked(messages)


def apologise_to_every_other(late: dict[str, DelayTruth]) -> Any:
    """A delivery hook: an apology for every second late order, as its notice goes out."""
    def deliver(shop: Shop, event: SimEvent, _: Any) -> None:
        if event.family != "fulfilment" or event.event["kind"] != "delayed":
            return
        order_id = event.event["order_id"]
        late[order_id] = next(d for d in shop.delays() if d.order_id == order_id)
        if len(late) % 2:
            customer = event.event["customer"]["customer_id"]
            shop.deliver(customer, decision(customer, event.event["event_time"],
                                            decision_type="delay_apology", trigger=order_id,
                                            order_id=order_id))
    return deliver


def test_an_apology_that_comes_first_makes_the_customer_ask_far_less(
        silent: tuple[Shop, list[Message]]) -> None:
    shop, late = Shop(seed=5, customers=600), dict[str, DelayTruth]()
    messages = run(shop, DAYS, apologise_to_every_other(late))
    end = shop.start_time_ms + int(DAYS * DAY_MS)
    done = [d for d in late.values() if d.asks_at < end - 3 * DAY_MS]
    told = [d for d in done if d.apologised_at is not None]
    untold = [d for d in done if d.apologised_at is None]
    assert len(told) > 20 and len(untold) > 20
    assert all(d.complained == d.would_complain_apologised for d in told)
    assert all(d.complained == d.would_complain for d in untold)
    would, did = sum(d.would_complain for d in told), sum(bool(d.complained) for d in told)
    assert did <= would * APOLOGISED_FACTOR * 2 and would - did > 8
    # The rest of the traffic is the same as in the run without apologies.
    _, plain = silent
    assert {d.order_id for d in untold if d.complained} <= asked(plain)

    def natural(stream: list[Message]) -> list[Message]:
        return [m for m in stream if isinstance(m, SimEvent) and m.family != "support"
                and not m.event.get("decision_id")]

    assert natural(messages) == natural(plain)
