"""What fuzzing the codec found (tests/fuzz), each refused now with a dead-letter reason."""

from __future__ import annotations

from typing import Any

import pytest

from nextbest.codec import Codec, CodecError, default_codec
from nextbest.engine import Engine
from tests.events import click, order, policy_settings, review, support

T0 = 1_700_000_000_000
ERASURE_ACK_WITH_A_64_BIT_INT = bytes.fromhex(  # the decode target's input, hint byte dropped
    "000000000a" "0865762d39" "02086e622d31" "80a066dac722" "ffffffffffffffffffff06" "00")
"""An erasure acknowledgement whose ``identifiers_removed`` (an Avro int) is -2**63."""


@pytest.fixture(scope="module")
def codec() -> Codec:
    return default_codec()


def refusal(codec: Codec, value: bytes | str, family: str | None = None) -> CodecError:
    with pytest.raises(CodecError) as caught:
        codec.decode(value, family_hint=family)
    return caught.value


def test_an_avro_int_beyond_32_bits_is_refused_like_in_json(codec: Codec) -> None:
    error = refusal(codec, ERASURE_ACK_WITH_A_64_BIT_INT)
    assert error.reason == "schema_validation_failed"
    assert "identifiers_removed: expected int, got int -9223372036854775808" in str(error)
    event = order(T0, "o-1")
    event["lines"][0]["quantity"] = 2**40  # fastavro writes it, and reads it back
    error = refusal(codec, codec.encode("purchase", event, check=False))
    assert (error.reason, str(error)) == (
        "schema_validation_failed",
        "purchase: lines[0].quantity: expected int, got int 1099511627776")


def decision(scores: dict[str, float]) -> dict[str, Any]:
    return {"decision_id": "d-1", "decision_type": "winback", "customer_id": "nb-1",
            "action": "send_message", "payload": "{}", "reasons": [], "scores": scores,
            "causing_event_id": "e-1", "causing_event_time": T0, "decided_at": T0,
            "created_at": T0}


def with_value(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


NON_FINITE = [
    ("purchase", order(T0, "o-1"), ("total",), float("nan"), "total"),
    ("purchase", order(T0, "o-1"), ("lines", 0, "unit_price"), float("inf"),
     "lines[0].unit_price"),
    ("clickstream", click(T0, "product_view", item_id="i-1"), ("price",), float("-inf"), "price"),
    ("support", support(T0, "c-1", "refund!"), ("refund_requested",), float("nan"),
     "refund_requested"),
]


@pytest.mark.parametrize(("family", "event", "path", "value", "where"), NON_FINITE)
def test_non_finite_amounts_are_refused(codec: Codec, family: str, event: dict[str, Any],
                                        path: tuple[Any, ...], value: float, where: str) -> None:
    bad = with_value(event, path, value)
    expected = ("invalid_value", f"{where}: must be a finite number")
    error = refusal(codec, codec.encode(family, bad, check=False))  # an Avro producer's
    assert (error.reason, str(error)) == expected
    with pytest.raises(CodecError) as caught:  # a Python producer's
        codec.encode(family, bad)
    assert (caught.value.reason, str(caught.value)) == expected


def test_the_engine_was_handed_an_infinite_price_and_raised() -> None:
    """Why: the step itself cannot take it (and on the internal topics it would be null)."""
    bad = with_value(order(T0, "o-1"), ("lines", 0, "unit_price"), float("inf"))
    with pytest.raises(OverflowError):
        Engine(policy_settings()).step(None, "nb-1", "purchase", bad)


def test_records_nextbest_writes_may_still_carry_any_double(codec: Codec) -> None:
    written = codec.encode_decision(decision({"churn_risk": float("nan")}))
    assert str(codec.decode_decision(written)["scores"]) == "{'churn_risk': nan}"


def test_a_lone_surrogate_is_refused_before_it_reaches_a_writer(codec: Codec) -> None:
    text = b"caf\xe9".decode("utf-8", "surrogateescape")  # 'caf\udce9'
    bad = review(T0, "dress-1", 4, text)
    for write in (codec.encode, codec.encode_json):  # encode_json raised orjson's TypeError
        with pytest.raises(CodecError) as caught:
            write("review", bad)
        assert (caught.value.reason, str(caught.value)) == (
            "schema_validation_failed", "review: text: expected Unicode text, got a lone surrogate")
    raw = codec.encode_json("review", review(T0, "dress-1", 4, "X"))
    escaped = raw.replace(b'"text":"X"', b'"text":"caf\\udce9"')
    assert escaped != raw
    assert refusal(codec, escaped).reason == "invalid_json"  # JSON cannot carry one either


def test_a_map_key_with_a_lone_surrogate_is_refused(codec: Codec) -> None:
    with pytest.raises(CodecError) as caught:
        codec.encode_decision(decision({"risk\udc85": 0.5}))
    assert (caught.value.reason, str(caught.value)) == (
        "schema_validation_failed", "decision: scores: expected Unicode text, got a lone surrogate")
