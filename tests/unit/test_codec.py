"""The codec: round trips, JSON normalization, every refusal reason, and a fuzz run."""

from __future__ import annotations

import copy
import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from nextbest.codec import (
    REASONS,
    Codec,
    CodecError,
    DecodedEvent,
    EmbeddedRegistry,
    decode,
    decode_decision,
    default_codec,
    encode,
    encode_decision,
    encode_json,
)
from nextbest.codec.wire import frame_header
from nextbest.errors import NextbestError

T0 = 1_700_000_000_000
CUSTOMER = {"email": "lisa@example.com"}

SAMPLES: dict[str, dict[str, Any]] = {
    "clickstream": {
        "event_id": "c1",
        "event_time": T0,
        "customer": {"device_id": "dev-9"},
        "action": "add_to_cart",
        "item_id": "dress-1",
        "price": 59,
        "quantity": 1,
        "context": {"device": "mobile", "timezone": "Europe/Berlin"},
    },
    "purchase": {
        "event_id": "p1",
        "event_time": T0,
        "customer": CUSTOMER,
        "kind": "return",
        "order_id": "o1",
        "lines": [
            {"item_id": f"item-{i}", "category": "dresses", "quantity": 1, "unit_price": 59.0}
            for i in range(3)
        ],
        "total": 177,
        "channel": "pos",
        "return_reason": "defective",
    },
    "support": {
        "event_id": "s1",
        "event_time": T0,
        "customer": {"phone": "+4930123456"},
        "kind": "message",
        "conversation_id": "conv-1",
        "channel": "chat",
        "author": "customer",
        "text": "I will call my lawyer",
        "refund_requested": 250,
    },
    "review": {
        "event_id": "r1",
        "event_time": T0,
        "customer": {"customer_id": "42"},
        "review_id": "rev-1",
        "item_id": "headphones-1",
        "rating": 5,
        "source": "google",
    },
    "identity": {
        "event_id": "i1",
        "event_time": T0,
        "customer": {"email": "lisa@example.com", "loyalty_id": "L-7"},
        "kind": "consent_revoked",
        "consent_channel": "sms",
    },
    "fulfilment": {
        "event_id": "f1",
        "event_time": T0,
        "customer": {"customer_id": "42", "email": "john@example.com"},
        "kind": "delayed",
        "order_id": "o1",
        "promised_delivery": T0 + 3 * 86_400_000,
        "expected_delivery": T0 + 5 * 86_400_000,
        "delay_reason": "warehouse",
        "carrier": "DHL",
    },
    "catalog": {
        "event_id": "k1",
        "event_time": T0,
        "kind": "item",
        "item_id": "dress-1",
        "name": "Summer dress",
        "price": 59,
        "tags": ["summer"],
        "consumable": False,
    },
    "decision": {
        "decision_id": "d1",
        "decision_type": "service_recovery",
        "customer_id": "nb-lisa",
        "channel": "email",
        "action": "send_message",
        "payload": '{"offer": "10%"}',
        "reasons": [{"code": "return_defective", "text": "Returned a defective dress"}],
        "scores": {"clv": 812.5},
        "causing_event_id": "p1",
        "causing_event_time": T0,
        "decided_at": T0,
        "expires_at": T0 + 86_400_000,
        "created_at": T0 + 5,
    },
    "outcome": {
        "decision_id": "winback-1", "decision_type": "winback", "customer_id": "nb-lisa",
        "experiment_arm": "holdout", "sent": False, "decided_at": T0,
        "closed_at": T0 + 7 * 86_400_000, "orders": 1, "revenue": 42.5, "converted": True,
        "redeemed": False, "viewed": False, "clicked": False, "offer_id": None,
    },
    "erasure_ack": {
        "request_event_id": "i9", "customer_id": "nb-lisa", "requested_at": T0,
        "erased_at": T0 + 50, "identifiers_removed": 3,
        "stores": ["identity_graph", "profile_table", "redis", "models"],
    },
    "sentiment_digest": {
        "week": "2023-W46", "start_ms": T0, "end_ms": T0 + 7 * 86_400_000, "texts": 3,
        "negative_texts": 2, "positive_texts": 1,
        "negative": [{"theme": "shipping", "count": 2, "share": 0.67,
                      "examples": [{"text": "Late again.", "source": "review",
                                    "negative": 0.9}]}],
        "positive": [],
    },
}


def sample(family: str, **changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(SAMPLES[family])
    record.update(changes)
    return record


def _covers(actual: Any, given: Any) -> bool:
    """Every value given is in ``actual`` (which may hold more, from defaults)."""
    if isinstance(given, dict):
        return isinstance(actual, dict) and all(_covers(actual.get(k), v) for k, v in given.items())
    if isinstance(given, list):
        return len(actual) == len(given) and all(map(_covers, actual, given))
    return bool(actual == given and (type(actual) is type(given) or type(given) is int))


def frame(schema_id: int, body: bytes) -> bytes:
    return frame_header(schema_id) + body


@pytest.fixture(scope="module")
def codec() -> Codec:
    return default_codec()


def test_every_family_has_a_sample(codec: Codec) -> None:
    assert set(SAMPLES) == codec.families


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_avro_round_trip(codec: Codec, family: str) -> None:
    value = codec.encode(family, SAMPLES[family])
    decoded = codec.decode(value, family_hint=family)
    assert decoded == DecodedEvent(
        family=family,
        schema_id=EmbeddedRegistry().latest(family).schema_id,
        event=codec.normalize(family, SAMPLES[family]),
        encoding="avro",
    )
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == decoded.schema_id
    assert _covers(decoded.event, SAMPLES[family])  # nothing lost; ints promoted to doubles
    assert codec.encode(family, decoded.event) == value  # decoded shape re-encodes identically


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_json_is_normalized_exactly_like_avro(codec: Codec, family: str) -> None:
    from_avro = codec.decode(codec.encode(family, SAMPLES[family]))
    raw_json = orjson.dumps({"family": family, **SAMPLES[family]})
    from_json = codec.decode(raw_json)
    assert from_json.event == from_avro.event
    assert list(from_json.event) == list(from_avro.event)  # same field order too
    assert (from_json.family, from_json.schema_id, from_json.encoding) == (family, None, "json")
    for event in (from_avro.event, from_json.event):  # same value types as well
        assert {k: type(v) for k, v in event.items()} == {
            k: type(v) for k, v in from_avro.event.items()
        }


def test_json_family_from_topic_defaults_and_iso_times(codec: Codec) -> None:
    raw = orjson.dumps(
        {
            "event_id": "p9",
            "event_time": "2023-11-14T23:13:20+01:00",
            "customer": {"pos_id": "POS-1"},
            "kind": "order",
            "order_id": "o9",
            "total": 10,
            "channel": "web",
        }
    )
    decoded = codec.decode(b"  \n" + raw, family_hint=codec.family_from_topic("events.purchase"))
    assert decoded.family == "purchase"
    event = decoded.event
    assert event["event_time"] == T0 and type(event["event_time"]) is int
    assert event["total"] == 10.0 and type(event["total"]) is float
    assert event["lines"] == [] and event["discount_codes"] == [] and event["currency"] == "EUR"
    assert event["customer"] == {
        "customer_id": None,
        "email": None,
        "phone": None,
        "device_id": None,
        "loyalty_id": None,
        "pos_id": "POS-1",
    }


def test_times_are_int_milliseconds_and_datetimes_are_accepted(codec: Codec) -> None:
    moment = datetime.fromtimestamp(T0 / 1000, tz=UTC)
    decoded = codec.decode(codec.encode("review", sample("review", event_time=moment)))
    assert decoded.event["event_time"] == T0 and type(decoded.event["event_time"]) is int
    berlin = moment.astimezone(timezone(timedelta(hours=1)))
    assert codec.normalize("review", sample("review", event_time=berlin))["event_time"] == T0
    decision = codec.decode_decision(codec.encode_decision(SAMPLES["decision"]))
    assert decision["expires_at"] == T0 + 86_400_000 and decision["model_versions"] == {}


def test_module_level_functions_and_str_values() -> None:
    value = encode("purchase", SAMPLES["purchase"])
    assert decode(value).event == decode(encode_json("purchase", SAMPLES["purchase"])).event
    assert decode(encode_json("review", SAMPLES["review"]).decode()).family == "review"
    assert decode_decision(encode_decision(SAMPLES["decision"]))["decision_id"] == "d1"


def test_unknown_json_fields_are_ignored(codec: Codec) -> None:
    raw = orjson.dumps({"family": "review", **SAMPLES["review"], "added_in_v9": True})
    assert "added_in_v9" not in codec.decode(raw).event


def test_family_from_topic(codec: Codec) -> None:
    assert codec.family_from_topic("events.support") == "support"
    assert codec.family_from_topic("prod.events.catalog") == "catalog"
    assert codec.family_from_topic("decisions.winback") == "decision"
    assert codec.family_from_topic("deadletter") is None


def test_decoded_event_is_frozen() -> None:
    decoded = decode(encode("review", SAMPLES["review"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.family = "purchase"
    assert not hasattr(decoded, "__dict__")


def _good(family: str = "purchase") -> bytes:
    return encode(family, SAMPLES[family])


def _json(family: str | None = "purchase", **changes: Any) -> bytes:
    record = sample(family if family in SAMPLES else "purchase", **changes)
    record = {k: v for k, v in record.items() if v is not _DROP}
    return orjson.dumps({"family": family, **record} if family else record)


_DROP = object()

# (reason, value, family_hint, expected text in the message)
MALFORMED: list[tuple[str, Any, str | None, str]] = [
    ("empty_value", b"", None, "empty"),
    ("empty_value", None, None, "empty"),
    ("bad_magic_byte", b"\x01" + _good()[1:], None, "0x01"),
    ("bad_magic_byte", b"[1, 2]", None, "0x5b"),
    ("truncated", b"\x00\x00\x00", None, "header"),
    ("truncated", _good()[:40], None, "cut short"),
    ("unknown_schema_id", frame(999, _good()[5:]), None, "999"),
    ("avro_decode_error", frame(2, b"\x04\xff\xfe" + bytes(60)), None, "do not decode"),
    ("avro_decode_error", _good() + b"\x00", None, "1 bytes left"),
    ("avro_decode_error", frame(1, _good()[5:]), None, "clickstream"),  # wrong writer schema
    ("invalid_json", b'{"family": "purchase",', None, "not valid JSON"),
    ("invalid_json", b"{\xff}", None, "not valid JSON"),
    ("unknown_family", b'{"event_id": "x"}', None, "no 'family'"),
    ("unknown_family", _json("nope"), None, "'nope' is not one of"),
    ("unknown_family", _good(), "nope", "not an event family"),
    ("family_mismatch", _good(), "review", "topic is for 'review'"),
    ("family_mismatch", _json("purchase"), "review", "on a 'review' topic"),
    ("family_mismatch", _good("decision"), "purchase", "'decision' event"),
    ("schema_validation_failed", _json(order_id=_DROP), None, "order_id: required field"),
    ("schema_validation_failed", _json(kind="exchange"), None, "kind: 'exchange' is not one"),
    ("schema_validation_failed", _json(return_reason="bored"), None, "return_reason"),
    ("schema_validation_failed", _json(event_time=1.5), None, "event_time: expected"),
    ("schema_validation_failed", _json(total=True), None, "total: expected number"),
    ("schema_validation_failed", _json(currency=None), None, "currency: expected string"),
    (
        "schema_validation_failed",
        _json(lines=[{"item_id": "a", "unit_price": 1}, {"item_id": "b", "unit_price": "9"}]),
        None,
        "lines[1].unit_price: expected number, got str",
    ),
    ("schema_validation_failed", _json(event_time="yesterday"), None, "ISO-8601"),
    ("schema_validation_failed", _json(event_time="2024-01-01T00:00:00"), None, "time zone"),
    ("no_customer_identifier", _json(customer={}), None, "customer: at least one"),
    ("no_customer_identifier", _json(customer={"email": " ", "phone": None}), None, "identifier"),
    ("invalid_value", _json(event_time=0), None, "event_time: 0"),
    ("invalid_value", _json("review", rating=6), None, "rating: 6 is outside 1..5"),
    ("invalid_value", _json("catalog", item_id=""), None, "item_id: must not be empty"),
    ("invalid_value", _json("support", event_id=""), None, "event_id: must not be empty"),
]


@pytest.mark.parametrize(("reason", "value", "hint", "text"), MALFORMED)
def test_each_malformed_input_gives_its_reason(
    codec: Codec, reason: str, value: Any, hint: str | None, text: str
) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(value, family_hint=hint)
    assert caught.value.reason == reason
    assert text in str(caught.value)


def test_every_reason_is_exercised() -> None:
    assert {case[0] for case in MALFORMED} == set(REASONS)


@pytest.mark.parametrize(
    ("family", "changes", "reason"),
    [
        ("purchase", {"customer": {}}, "no_customer_identifier"),
        ("purchase", {"event_time": -5}, "invalid_value"),
        ("review", {"rating": 0}, "invalid_value"),
        ("decision", {"customer_id": ""}, "no_customer_identifier"),
    ],
)
def test_semantic_rules_apply_to_avro_too(
    codec: Codec, family: str, changes: dict[str, Any], reason: str
) -> None:
    bad = sample(family, **changes)
    with pytest.raises(CodecError) as refused:
        codec.encode(family, bad)
    assert refused.value.reason == reason
    with pytest.raises(CodecError) as caught:
        codec.decode(codec.encode(family, bad, check=False))
    assert caught.value.reason == reason


def test_encode_refuses_what_fastavro_would_silently_coerce(codec: Codec) -> None:
    for changes in ({"event_time": 1.9}, {"total": True}, {"lines": [{"item_id": "a"}]}):
        with pytest.raises(CodecError) as caught:
            codec.encode("purchase", sample("purchase", **changes))
        assert caught.value.reason == "schema_validation_failed"
    with pytest.raises(CodecError) as caught:
        codec.encode("nope", SAMPLES["purchase"])
    assert caught.value.reason == "unknown_family"
    with pytest.raises(CodecError) as caught:  # unchecked: the writer's own refusal, wrapped
        codec.encode("purchase", sample("purchase", order_id=7), check=False)
    assert caught.value.reason == "schema_validation_failed"


def test_error_tree() -> None:
    with pytest.raises(CodecError) as caught:
        decode(b"")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, NextbestError)
    assert "empty_value" in repr(caught.value)
    with pytest.raises(TypeError):
        CodecError("x", reason="something_new")


def _fuzz_values(rnd: random.Random) -> list[bytes]:
    good = [encode(f, SAMPLES[f]) for f in sorted(SAMPLES)]
    values = []
    for _ in range(2000):  # plain random bytes, mostly a bad magic byte
        values.append(rnd.randbytes(rnd.randint(0, 120)))
    for _ in range(2000):  # a valid header for a real id, then garbage
        values.append(frame(rnd.randint(1, 8), rnd.randbytes(rnd.randint(0, 200))))
    for _ in range(2000):  # valid messages with random bytes flipped, cut or appended
        value = bytearray(rnd.choice(good))
        for _ in range(rnd.randint(1, 4)):
            value[rnd.randrange(len(value))] = rnd.getrandbits(8)
        values.append(bytes(value[: rnd.randint(0, len(value) + 3)]) + rnd.randbytes(2))
    for _ in range(2000):  # JSON-looking noise
        values.append(b"{" + rnd.randbytes(rnd.randint(0, 60)))
    return values


def test_fuzz_only_codec_errors(codec: Codec) -> None:
    rnd = random.Random(20240501)
    seen: set[str] = set()
    for value in _fuzz_values(rnd):
        hint = rnd.choice([None, "purchase", "decision"])
        try:
            decoded = codec.decode(value, family_hint=hint)
        except CodecError as exc:
            seen.add(exc.reason)
        else:
            assert isinstance(decoded.event, dict)
    assert {"bad_magic_byte", "truncated", "avro_decode_error", "invalid_json"} <= seen
    assert seen <= set(REASONS)
