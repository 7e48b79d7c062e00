"""A dead letter's value, readable: decoded as the event its source topic carries (Avro or JSON,
with the codec), else as nextbest's internal message or any JSON, else a hex dump."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from nextbest.codec import Codec, CodecError
from nextbest.codec.wire import HEADER_SIZE, MAGIC

HEX_BYTES = 1024
"""The most of a value a hex dump shows."""


@dataclass(frozen=True)
class Preview:
    how: str
    """How the value was read: ``Avro, schema id 4``, ``JSON``, ``hex``..."""
    text: str
    note: str | None = None
    """Why a better reading failed (the codec's words)."""


def preview(value: bytes | None, source_topic: str | None, codec: Codec, *,
            internal_topic: str | None = None) -> Preview:
    """The best reading of ``value``: the codec first (the family its topic implies), then
    nextbest's internal messages (``internal_topic``), any JSON, a hex dump.

    >>> preview(b"\\x00\\x00\\x00\\x03\\xe7ab", "events.review", Codec()).note
    'unknown_schema_id: schema id 999 is not registered'
    """
    if not value:
        return Preview("empty", "")
    note = None
    family = codec.family_from_topic(source_topic) if source_topic else None
    if family in codec.families and source_topic != internal_topic:
        try:
            decoded = codec.decode(value, family_hint=family)
        except CodecError as exc:
            note = f"{exc.reason}: {exc}"
        else:
            how = (f"Avro, schema id {decoded.schema_id}" if decoded.encoding == "avro"
                   else "JSON")
            return Preview(f"{how}, a valid {decoded.family} event", pretty(decoded.event))
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    else:
        how = "nextbest internal message" if source_topic == internal_topic else "JSON"
        return Preview(how, pretty(parsed), note)
    framed = (f", Confluent framing with schema id {int.from_bytes(value[1:HEADER_SIZE], 'big')}"
              if len(value) >= HEADER_SIZE and value[0] == MAGIC else "")
    return Preview(f"hex, {len(value)} bytes{framed}", hex_dump(value), note)


def pretty(data: object) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                        default=repr).decode()


def hex_dump(value: bytes, limit: int = HEX_BYTES) -> str:
    """Offset, 16 bytes in hex, the printable ones as text.

    >>> print(hex_dump(b"\\x00\\x00\\x00\\x00\\x04{bad"))
    00000000  00 00 00 00 04 7b 62 61 64                       .....{bad
    """
    lines = []
    for start in range(0, min(len(value), limit), 16):
        chunk = value[start:start + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {' '.join(f'{b:02x}' for b in chunk):<47}  {text}")
    if len(value) > limit:
        lines.append(f"... {len(value) - limit} more bytes")
    return "\n".join(lines)
