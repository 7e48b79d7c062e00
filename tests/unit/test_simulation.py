"""The synthetic shop: deterministic, schema-valid, and every storyline shows up early."""

from __future__ import annotations

import io
import json
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from fastavro.validation import validate

from nextbest.simulation import MALFORMED_FLAWS, MalformedMessage, Shop, ShopTruth, SimEvent
from nextbest.simulation.malformed import ENUM_FIELDS, SCHEMA_IDS
from nextbest.simulation.model import FAMILIES
from nextbest.simulation.records import KEY_ORDER
from nextbest.simulation.texts import LEGAL_WORDS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
DAY_MS = 86_400_000
N = 20_000  # most storylines show up within this many events (~33 simulated days by default)
N_SILENT = 40_000  # ~66 simulated days: room for a fast buyer to stay away twice their gap


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return {f: fastavro.parse_schema(json.loads((SCHEMA_DIR / f"{f}.avsc").read_text()))
            for f in FAMILIES}


@pytest.fixture(scope="module")
def shop() -> Shop:
    return Shop(seed=7)


@pytest.fixture(scope="module")
def stream(shop: Shop) -> list[SimEvent]:
    events = [e for e in islice(shop.events(), N_SILENT) if isinstance(e, SimEvent)]
    assert len(events) == N_SILENT
    return events


def owner(truth: ShopTruth, customer: dict[str, Any]) -> str:
    """The true customer behind a reference; anonymous visitors are their device id."""
    values = [v for v in customer.values() if v]
    return next((truth.owner_of[v] for v in values if v in truth.owner_of), values[0])


def test_same_seed_same_stream_and_other_seeds_differ(shop: Shop,
                                                       stream: list[SimEvent]) -> None:
    first = list(islice(Shop(seed=3, malformed_share=0.05).events(), 5_000))
    assert first == list(islice(Shop(seed=3, malformed_share=0.05).events(), 5_000))
    assert first != list(islice(Shop(seed=4, malformed_share=0.05).events(), 5_000))
    assert Shop(seed=3).catalog() == Shop(seed=3).catalog()
    assert list(islice(shop.events(), 1_000)) == stream[:1_000]  # each call starts over


def test_every_event_matches_its_schema(shop: Shop, stream: list[SimEvent],
                                        schemas: dict[str, Any]) -> None:
    # Page and product views are nine tenths of the stream and all alike: check the first few.
    common = {"page_view", "product_view"}
    for i, event in enumerate([*shop.catalog(), *stream[:N]]):
        if i > 5_000 and event.family == "clickstream" and event.event["action"] in common:
            continue
        assert event.family in FAMILIES
        assert validate(event.event, schemas[event.family], raise_errors=True)
        assert isinstance(event.event["event_time"], int)


def test_keys_and_identifiers(shop: Shop, stream: list[SimEvent]) -> None:
    """Keyed by item or first identifier; one reference never mixes two customers."""
    truth = shop.truth()
    for event in [*shop.catalog(), *stream[:N]]:
        if event.family == "catalog":
            assert event.key == event.event["item_id"]
            continue
        customer = event.event["customer"]
        assert event.key == next(customer[k] for k in KEY_ORDER if customer[k])
        values = [v for v in customer.values() if v]
        assert len({truth.owner_of.get(v, v) for v in values}) == 1, event
        assert values[0] in truth.owner_of or values[0].startswith("A")  # anonymous visitor


def test_event_time_never_decreases_and_ids_are_unique(shop: Shop,
                                                       stream: list[SimEvent]) -> None:
    catalog = shop.catalog()
    times = [e.event["event_time"] for e in [*catalog, *stream]]
    assert all(a <= b for a, b in pairwise(times))
    assert times[len(catalog)] >= shop.start_time_ms
    ids = [e.event["event_id"] for e in [*catalog, *stream]]
    assert len(ids) == len(set(ids))
    orders = [e.event["order_id"] for e in stream
              if e.family == "purchase" and e.event["kind"] == "order"]
    assert len(orders) == len(set(orders))


def test_time_passes_at_the_asked_pace(shop: Shop, stream: list[SimEvent]) -> None:
    span_ms = stream[N - 1].event["event_time"] - shop.start_time_ms
    mean_gap_s = span_ms / N / 1000
    assert mean_gap_s == pytest.approx(shop.time_scale / 100, rel=0.15)


def test_lapsed_customers_stop_buying(shop: Shop, stream: list[SimEvent]) -> None:
    truth = shop.truth()
    lapsing = [c for c in truth.customers.values() if c.will_lapse]
    assert 0.2 < len(lapsing) / len(truth.customers) < 0.45
    for event in stream:
        if event.family == "purchase" and event.event["kind"] == "order":
            lapse = truth.customers[owner(truth, event.event["customer"])].lapse_time_ms
            assert lapse is None or event.event["event_time"] < lapse


def test_truth_describes_every_customer(shop: Shop) -> None:
    truth = shop.truth()
    assert len(truth.customers) == 500
    for cid, customer in truth.customers.items():
        assert cid == customer.customer_id
        assert sum(customer.preferences.values()) == pytest.approx(1.0, abs=1e-3)
        assert 7.0 <= customer.mean_gap_days <= 90.0
        assert customer.value_tier in {"high", "mid", "low"}
        assert (customer.lapse_time_ms is not None) == customer.will_lapse
        assert all(truth.owner_of[v] == cid for v in customer.identifiers)


# --- storylines: each shows up within the first N events ------------------------------------

SINGLE_EVENT_STORYLINES: dict[str, Callable[[SimEvent], bool]] = {
    "defective return": lambda e: e.family == "purchase" and e.event["kind"] == "return"
    and e.event["return_reason"] == "defective",
    "legal threat": lambda e: e.family == "support" and e.event["text"] is not None
    and any(word in e.event["text"].lower() for word in LEGAL_WORDS),
    "refund request above 200": lambda e: e.family == "support"
    and (e.event["refund_requested"] or 0.0) > 200.0,
    "review": lambda e: e.family == "review",
    "identity link": lambda e: e.family == "identity" and e.event["kind"] == "link",
}


@pytest.mark.parametrize("name", list(SINGLE_EVENT_STORYLINES))
def test_single_event_storyline_shows_up_early(name: str, stream: list[SimEvent]) -> None:
    assert any(SINGLE_EVENT_STORYLINES[name](e) for e in stream[:N])


def repeat_contact_within_3_days(stream: list[SimEvent], truth: ShopTruth) -> int | None:
    opened: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(stream):
        if e.family == "support" and e.event["kind"] == "opened":
            who, t = owner(truth, e.event["customer"]), e.event["event_time"]
            if any(t - before <= 3 * DAY_MS for before in opened[who]):
                return i
            opened[who].append(t)
    return None


def _orders(stream: list[SimEvent], truth: ShopTruth) -> dict[str, list[int]]:
    orders: dict[str, list[int]] = defaultdict(list)
    for e in stream:
        if e.family == "purchase" and e.event["kind"] == "order":
            orders[owner(truth, e.event["customer"])].append(e.event["event_time"])
    return orders


def cart_abandoned_for_30_minutes(stream: list[SimEvent], truth: ShopTruth) -> int | None:
    times, orders = [e.event["event_time"] for e in stream], _orders(stream, truth)
    for e in stream:
        if e.family == "clickstream" and e.event["action"] == "add_to_cart":
            t, who = e.event["event_time"], owner(truth, e.event["customer"])
            if t + 1_800_000 > times[-1]:
                return None
            if not any(t < o <= t + 1_800_000 for o in orders[who]):
                return bisect_right(times, t + 1_800_000)
    return None


def silent_for_twice_own_gap(stream: list[SimEvent], truth: ShopTruth) -> int | None:
    """A customer with a known rhythm (2+ orders) who then stays away twice their usual gap."""
    times, found = [e.event["event_time"] for e in stream], None
    for who, orders in _orders(stream, truth).items():
        if len(orders) < 2:
            continue
        gap = truth.customers[who].mean_gap_days * DAY_MS
        for k in range(1, len(orders)):
            deadline = orders[k] + 2 * gap
            later = orders[k + 1] if k + 1 < len(orders) else None
            if deadline <= times[-1] and (later is None or later > deadline):
                index = bisect_right(times, deadline)
                found = index if found is None else min(found, index)
                break
    return found


@pytest.mark.parametrize(("storyline", "within"), [
    (repeat_contact_within_3_days, N),
    (cart_abandoned_for_30_minutes, N),
    (silent_for_twice_own_gap, N_SILENT),
])
def test_storyline_shows_up_early(storyline: Callable[[list[SimEvent], ShopTruth], int | None],
                                  within: int, shop: Shop, stream: list[SimEvent]) -> None:
    index = storyline(stream[:within], shop.truth())
    assert index is not None and index < within


def test_malformed_share_and_flaws(schemas: dict[str, Any]) -> None:
    messages = list(islice(Shop(seed=11, malformed_share=0.05).events(), N))
    broken = [m for m in messages if isinstance(m, MalformedMessage)]
    assert 0.04 < len(broken) / len(messages) < 0.06
    assert set(Counter(m.flaw for m in broken)) == set(MALFORMED_FLAWS)
    for m in broken:
        schema = schemas[m.family]
        if m.flaw == "truncated_avro":
            assert m.value[0] == 0 and int.from_bytes(m.value[1:5], "big") == SCHEMA_IDS[m.family]
            with pytest.raises(EOFError):
                fastavro.schemaless_reader(io.BytesIO(m.value[5:]), schema)
            continue
        if m.flaw == "not_json":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(m.value)
            continue
        record = orjson.loads(m.value)
        if m.flaw == "no_identifier":  # well-typed, but breaks the "at least one" rule
            ids = record["customer"].values() if "customer" in record else [record["item_id"]]
            assert not any(ids)
            continue
        assert not validate(record, schema, raise_errors=False), m.flaw
        if m.flaw == "missing_field":
            assert "event_id" not in record or "event_time" not in record
        else:
            assert record[ENUM_FIELDS[m.family]] == "teleported"
    # The broken copies come on top: the real events are those of a clean shop.
    real = [m for m in messages if isinstance(m, SimEvent)]
    assert real == list(islice(Shop(seed=11).events(), len(real)))


def test_schema_ids_follow_the_registry() -> None:
    registry = json.loads((SCHEMA_DIR / "registry.json").read_text())
    ids = {s["family"]: s["versions"][0]["id"] for s in registry["subjects"].values()}
    assert all(ids[family] == schema_id for family, schema_id in SCHEMA_IDS.items())


@pytest.mark.parametrize("kwargs", [{"customers": 0}, {"time_scale": 0.0}, {"malformed_share": 1}])
def test_rejects_impossible_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Shop(**kwargs)
