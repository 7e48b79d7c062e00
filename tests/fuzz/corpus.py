"""Seed corpora for the fuzz targets: real, valid messages made by the codec.

Input events come from the builders of ``tests/events.py`` and from the simulated shop (its
broken copies too, which must dead-letter); decisions, outcomes and a sentiment digest from
running the engine in-process over the shop's traffic; an erasure acknowledgement as the worker
writes it. Each is seeded as Avro on its family's topic and on an unnamed one, and as JSON with
and without its ``family`` member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from nextbest.codec import Codec
from nextbest.driver import InProcess
from nextbest.engine import Engine
from nextbest.simulation import MalformedMessage, Shop
from nextbest.streams.privacy import erasure_ack_record
from nextbest.streams.stages.timers import digest_record
from tests import events
from tests.fuzz.invariants import join

T0 = 1_700_000_000_000
SHOP_EVENTS = 700
"""Enough of the shop's traffic for every family, decisions and a week's sentiment digest."""


def builder_events() -> Iterator[tuple[str, dict[str, Any]]]:
    """One event of every kind the test builders make."""
    lisa = {"email": "Lisa@Example.com", "phone": "+49 170 1234567"}
    yield "clickstream", events.click(T0, "add_to_cart", item_id="dress-1", category="dresses",
                                      price=59.0, customer=lisa)
    yield "clickstream", events.click(T0, "search", customer={"device_id": "d-1"})
    yield "purchase", events.order(T0, "o-1", total=120.5, customer=lisa)
    yield "purchase", events.order(T0, "o-1", kind="return", reason="defective", channel="pos")
    yield "support", events.support(T0, "conv-1", "I will call my lawyer about the refund",
                                    refund=250.0, order_id="o-1")
    yield "support", events.support(T0, "conv-1", None, kind="resolved", author="agent")
    yield "identity", events.identity(T0, "link", customer={"email": "a@b.c", "pos_id": "P-1"})
    yield "identity", events.identity(T0, "consent_revoked", channel="sms")
    yield "identity", events.identity(T0, "erasure_requested")
    yield "review", events.review(T0, "dress-1", 2, "Late again, and the seam broke. Ünglaublich")
    yield "fulfilment", events.shipment(T0, "o-1", "delayed", promised=T0 + 3 * events.DAY,
                                        expected=T0 + 5 * events.DAY, reason="weather",
                                        tracking_url="https://track.example/o-1", customer=lisa)


@cache
def engine_records(shop_events: int = SHOP_EVENTS
                   ) -> tuple[list[tuple[str, dict[str, Any]]], list[MalformedMessage]]:
    """(family, record) of the shop's traffic and of what the engine made of it, and the
    shop's broken messages (made once; not to be changed)."""
    shop = Shop(seed=5, customers=25, items=20, time_scale=144_000.0, malformed_share=0.05)
    loop = InProcess(Engine(events.policy_settings()))
    records: list[tuple[str, dict[str, Any]]] = []
    broken: list[MalformedMessage] = []
    for message in [*shop.catalog(), *islice(shop.events(), shop_events)]:
        if isinstance(message, MalformedMessage):
            broken.append(message)
            continue
        records.append((message.family, message.event))
        fed = loop.feed(message.family, message.event)
        for result in fed.results:
            records += [("decision", d.to_record(created_at=fed.now)) for d in result.decisions]
            records += [("decision", entry.decision.to_record(status=entry.status,
                                                              suppressed_by=entry.rule))
                        for entry in result.logged]
            records += [("outcome", outcome.to_record()) for outcome in result.outcomes]
    for result in loop.wake_all(loop.clock + 60 * events.DAY):
        records += [("outcome", outcome.to_record()) for outcome in result.outcomes]
    digest = loop.engine.models.digest
    records += [("sentiment_digest", digest_record(digest.digest(week)))
                for week in digest.due(loop.engine.models.watermark)]
    records.append(("erasure_ack", erasure_ack_record("ev-9", "nb-1", T0, 3)))
    return records, broken


def real_records() -> list[tuple[str, dict[str, Any]]]:
    """A few valid records of every family and kind: the builders' and the engine run's."""
    records, _ = engine_records()
    return [*builder_events(), *_first_of_each_kind(records)]


def seed_messages(codec: Codec) -> list[bytes]:
    """Inputs of the decode target: every seed as Avro and JSON, on its topic and on none."""
    _, broken = engine_records()
    seeds = []
    for family, record in real_records():
        avro = codec.encode(family, record)
        as_json = codec.encode_json(family, record)
        bare = orjson.dumps({k: v for k, v in orjson.loads(as_json).items() if k != "family"})
        seeds += [join(codec, family, avro), join(codec, None, avro),
                  join(codec, None, as_json), join(codec, family, bare)]
    seeds += [join(codec, message.family, message.value) for message in broken]
    return seeds


def seed_edits(codec: Codec) -> list[bytes]:
    """Inputs of the normalize target (which starts from :func:`real_records` itself): a few
    byte strings to begin with; the fuzzer finds the edits that matter."""
    return [bytes([n]) * 16 for n in range(256)]


def _first_of_each_kind(records: list[tuple[str, Any]], per_kind: int = 3
                        ) -> list[tuple[str, Any]]:
    """A few records of each (family, kind or type or status): variety, not volume."""
    taken: dict[tuple[str, str], int] = {}
    chosen = []
    for family, record in records:
        kind = str(record.get("kind") or record.get("action") or record.get("decision_type"))
        key = (family, f"{kind}/{record.get('status')}")
        if taken.get(key, 0) < per_kind:
            taken[key] = taken.get(key, 0) + 1
            chosen.append((family, record))
    return chosen


def write(directory: Path, inputs: list[bytes]) -> Path:
    """Write inputs as files named by their hash (libFuzzer's own naming)."""
    directory.mkdir(parents=True, exist_ok=True)
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return directory


def dictionary(codec: Codec) -> list[bytes]:
    """Tokens worth trying (libFuzzer ``-dict``): field names, enum symbols, edge values."""
    tokens: set[str] = {'"family"', "NaN", "Infinity", "-0.0", "1e308", "2147483648",
                        "9223372036854775808", '"1970-01-01T00:00:00+00:00"', '"\\ud800"',
                        "null", "true", "[]", "{}"}
    for family in codec.families:
        tokens.add(f'"{family}"')
        _schema_tokens(codec.registry.local.latest(family).definition, tokens)
    return sorted(token.encode() for token in tokens)


def _schema_tokens(schema: Any, tokens: set[str]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _schema_tokens(branch, tokens)
    elif isinstance(schema, dict):
        for field in schema.get("fields", ()):
            tokens.add(f'"{field["name"]}"')
            _schema_tokens(field["type"], tokens)
        tokens.update(f'"{symbol}"' for symbol in schema.get("symbols", ()))
        for key in ("items", "values"):
            if key in schema:
                _schema_tokens(schema[key], tokens)


def write_dictionary(path: Path, tokens: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ['"' + "".join(_escape(byte) for byte in token) + '"' for token in tokens]
    path.write_text("\n".join(lines) + "\n")
    return path


def _escape(byte: int) -> str:
    char = chr(byte)
    return char if 0x20 <= byte < 0x7F and char not in '"\\' else f"\\x{byte:02x}"
