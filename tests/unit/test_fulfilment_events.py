"""Fulfilment events under the data contract (Avro with its fixed id, JSON, dead-letter
reasons) and what they do to a customer's profile."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nextbest.codec import CodecError, default_codec
from nextbest.engine import Engine
from nextbest.profile.merge import merge_profiles
from nextbest.profile.split import separate_profiles
from nextbest.profile.state import SHIPMENTS, CustomerProfile, Shipment
from nextbest.profile.update import apply_event
from tests.events import DAY, order, shipment

T0 = 1_767_268_800_000  # 2026-01-01T12:00Z
PROMISED = T0 + 3 * DAY
CODEC = default_codec()


def delayed(**overrides: Any) -> dict[str, Any]:
    event = shipment(T0 + DAY, "o1", "delayed", promised=PROMISED, expected=PROMISED + 3 * DAY,
                     reason="weather", tracking_url="https://track.example/o1")
    return {**event, **overrides}


@pytest.mark.parametrize("kind", ["shipped", "delayed", "delivered"])
def test_every_kind_round_trips_as_avro_with_its_fixed_schema_id(kind: str) -> None:
    event = {**delayed(), "kind": kind}
    value = CODEC.encode("fulfilment", event)
    assert value[:5] == b"\x00" + (13).to_bytes(4, "big")
    decoded = CODEC.decode(value, family_hint="fulfilment")
    assert (decoded.family, decoded.schema_id, decoded.encoding) == ("fulfilment", 13, "avro")
    assert decoded.event == event


def test_json_is_accepted_with_the_family_named_or_taken_from_the_topic() -> None:
    event = delayed()
    named = CODEC.decode(CODEC.encode_json("fulfilment", event))
    assert (named.family, named.encoding, named.event) == ("fulfilment", "json", event)
    bare = orjson.dumps({k: v for k, v in event.items() if v is not None})
    assert CODEC.decode(bare, family_hint="fulfilment").event == event  # defaults filled
    assert CODEC.family_from_topic("events.fulfilment") == "fulfilment"


@pytest.mark.parametrize(("change", "reason", "words", "avro"), [
    ({"expected_delivery": None}, "invalid_value", "a delay needs the new delivery date", True),
    ({"promised_delivery": None}, "invalid_value", "a delay needs the promised delivery date",
     True),
    ({"expected_delivery": PROMISED - DAY}, "invalid_value", "not after promised_delivery", True),
    ({"expected_delivery": PROMISED}, "invalid_value", "not after promised_delivery", True),
    ({"promised_delivery": -5, "expected_delivery": 7}, "invalid_value", "positive epoch-ms",
     True),
    ({"order_id": ""}, "invalid_value", "order_id: must not be empty", True),
    ({"customer": dict.fromkeys(delayed()["customer"])}, "no_customer_identifier", "customer",
     True),
    # fastavro cannot write a symbol its enum lacks: such events arrive as JSON
    ({"kind": "teleported"}, "schema_validation_failed", "kind", False),
    ({"delay_reason": "aliens"}, "schema_validation_failed", "delay_reason", False),
])
def test_bad_fulfilment_events_are_refused_with_a_dead_letter_reason(
        change: dict[str, Any], reason: str, words: str, avro: bool) -> None:
    bad = delayed(**change)
    values = [CODEC.encode_json("fulfilment", bad, check=False)]
    if avro:
        values.append(CODEC.encode("fulfilment", bad, check=False))
    for value in values:
        with pytest.raises(CodecError) as refused:
            CODEC.decode(value, family_hint="fulfilment")
        assert refused.value.reason == reason
        assert words in str(refused.value)


def test_a_shipped_or_delivered_event_needs_no_dates() -> None:
    for kind in ("shipped", "delivered"):
        event = shipment(T0, "o1", kind)
        assert CODEC.decode(CODEC.encode("fulfilment", event)).event == event


def fold(profile: CustomerProfile, *events: dict[str, Any]) -> CustomerProfile:
    for event in events:
        apply_event(profile, "fulfilment", event)
    return profile


def test_a_shipment_moves_from_shipped_to_delayed_to_delivered() -> None:
    profile = fold(CustomerProfile("nb-1"),
                   shipment(T0, "o1", "shipped", promised=PROMISED, carrier="UPS",
                            tracking_url="https://track.example/o1"),
                   delayed(carrier=None, tracking_url=None))
    (x,) = profile.shipments
    assert (x.status, x.updated_at, x.promised_delivery, x.expected_delivery) == (
        "delayed", T0 + DAY, PROMISED, PROMISED + 3 * DAY)
    assert (x.carrier, x.tracking_url, x.delay_reason, x.delays) == (
        "UPS", "https://track.example/o1", "weather", 1)
    assert x.delay_ms == 3 * DAY
    fold(profile, shipment(PROMISED + 2 * DAY, "o1", "delivered"))
    assert (x.status, x.delivered_at, x.expected_delivery) == (
        "delivered", PROMISED + 2 * DAY, PROMISED + 3 * DAY)


def test_late_news_fills_gaps_but_does_not_turn_the_status_back() -> None:
    profile = fold(CustomerProfile("nb-1"), delayed(carrier=None),
                   shipment(T0, "o1", "shipped", promised=PROMISED, carrier="GLS"))
    (x,) = profile.shipments
    assert (x.status, x.carrier, x.expected_delivery) == ("delayed", "GLS", PROMISED + 3 * DAY)
    fold(profile, shipment(PROMISED, "o1", "delivered"),
         delayed(event_time=PROMISED + DAY, expected_delivery=PROMISED + 9 * DAY))
    assert (x.status, x.expected_delivery, x.delays) == ("delivered", PROMISED + 3 * DAY, 2)


def test_shipments_do_not_count_as_the_customer_being_seen() -> None:
    profile = CustomerProfile("nb-1")
    apply_event(profile, "purchase", order(T0, "o1"))
    fold(profile, delayed(), shipment(PROMISED + 3 * DAY, "o1", "delivered"))
    assert (profile.first_seen, profile.last_seen) == (T0, T0)


def test_the_profile_keeps_the_latest_shipments_only_and_round_trips() -> None:
    profile = CustomerProfile("nb-1")
    for k in range(SHIPMENTS + 3):
        fold(profile, shipment(T0 + k * DAY, f"o{k}", "shipped", promised=T0 + (k + 3) * DAY))
    assert [x.order_id for x in profile.shipments] == [f"o{k}" for k in range(3, SHIPMENTS + 3)]
    again = CustomerProfile.from_dict(orjson.loads(profile.to_json()))
    assert again == profile
    assert isinstance(again.shipments[0], Shipment) and again.shipments[0].delay_ms == 0


def test_a_merge_keeps_the_newer_status_of_an_order_both_sides_know() -> None:
    survivor = fold(CustomerProfile("nb-a"), shipment(T0, "o1", "shipped", promised=PROMISED))
    absorbed = fold(CustomerProfile("nb-b"), delayed(),
                    shipment(T0, "o2", "shipped", promised=PROMISED))
    merged = merge_profiles(survivor, absorbed)
    assert [(x.order_id, x.status) for x in merged.shipments] == [("o2", "shipped"),
                                                                  ("o1", "delayed")]


def test_a_split_takes_the_absorbed_customers_shipments_back_out() -> None:
    survivor = fold(CustomerProfile("nb-a"), shipment(T0, "o1", "shipped", promised=PROMISED))
    absorbed = fold(CustomerProfile("nb-b"), delayed(order_id="o2"))
    at_merge = CustomerProfile.from_dict(absorbed.to_dict())
    apart = separate_profiles(merge_profiles(survivor, absorbed), at_merge)
    assert [x.order_id for x in apart.shipments] == ["o1"]


def test_the_engine_steps_a_fulfilment_event_once() -> None:
    engine, event = Engine(), delayed()
    first = engine.step(None, "nb-1", "fulfilment", event)
    assert first.profile.shipment("o1") is not None
    again = engine.step(first.profile, "nb-1", "fulfilment", event)
    assert again.duplicate and first.profile.shipments[0].delays == 1
