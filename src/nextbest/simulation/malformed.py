"""Broken messages a careless producer might publish; the engine must dead-letter every one.

Built by hand, without the engine's codec, so the two cannot share a bug.
"""

from __future__ import annotations

import random

import orjson

from nextbest.simulation.model import MalformedMessage, SimEvent

# Registered schema ids, as in schemas/registry.json (ids are fixed forever there).
SCHEMA_IDS: dict[str, int] = {"clickstream": 1, "purchase": 2, "support": 3, "review": 4,
                              "identity": 5, "catalog": 6, "fulfilment": 13}
MALFORMED_FLAWS: tuple[str, ...] = ("truncated_avro", "not_json", "missing_field",
                                    "no_identifier", "wrong_enum")
ENUM_FIELDS: dict[str, str] = {"clickstream": "action", "purchase": "kind", "support": "kind",
                               "review": "source", "identity": "kind", "catalog": "kind",
                               "fulfilment": "kind"}


def _zigzag_varint(n: int) -> bytes:
    value, out = (n << 1) ^ (n >> 63), bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def malformed(rng: random.Random, event: SimEvent) -> MalformedMessage:
    """A broken copy of ``event`` with one randomly chosen flaw.

    - ``truncated_avro``: Confluent framing (magic byte 0, 4-byte big-endian schema id), then
      Avro that stops in the middle of the first string.
    - ``not_json``: a JSON object cut short, or plain text.
    - ``missing_field``: JSON without a required field (``event_id`` or ``event_time``).
    - ``no_identifier``: JSON whose customer reference is all null (catalog: empty item_id).
    - ``wrong_enum``: JSON with a symbol the schema's enum does not know.
    """
    flaw = rng.choice(MALFORMED_FLAWS)
    family, record = event.family, dict(event.event)
    key: bytes | None = event.key.encode()
    if flaw == "truncated_avro":
        event_id = str(record["event_id"]).encode()
        header = b"\x00" + SCHEMA_IDS[family].to_bytes(4, "big")
        value = header + _zigzag_varint(len(event_id)) + event_id[: len(event_id) // 2]
        return MalformedMessage(family, key, value, flaw)
    if flaw == "not_json":
        if rng.random() < 0.5:
            text = orjson.dumps(record)
            value = text[: rng.randint(1, len(text) - 1)]  # an unclosed object never parses
        else:
            value = f"event_id={record['event_id']}; time={record['event_time']}".encode()
        return MalformedMessage(family, None if rng.random() < 0.3 else key, value, flaw)
    if flaw == "missing_field":
        del record[rng.choice(("event_id", "event_time"))]
    elif flaw == "wrong_enum":
        record[ENUM_FIELDS[family]] = "teleported"
    elif "customer" in record:
        record["customer"] = dict.fromkeys(record["customer"])
        key = None
    else:
        record["item_id"] = ""
        key = None
    return MalformedMessage(family, key, orjson.dumps(record), flaw)
