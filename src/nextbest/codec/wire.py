"""Confluent wire format: magic byte ``0x00``, 4-byte big-endian schema id, Avro binary."""

from __future__ import annotations

import struct
from typing import Final

from nextbest.codec.errors import MalformedFraming

MAGIC: Final = 0
HEADER_SIZE: Final = 5
_HEADER = struct.Struct(">bI")
_MAX_ID: Final = 2**32 - 1


def frame_header(schema_id: int) -> bytes:
    """The 5-byte header announcing ``schema_id``.

    >>> frame_header(7).hex()
    '0000000007'
    """
    if not 0 <= schema_id <= _MAX_ID:
        raise ValueError(f"schema id {schema_id} does not fit in 4 bytes")
    return _HEADER.pack(MAGIC, schema_id)


def read_header(value: bytes | bytearray | memoryview) -> int:
    """The schema id of a framed Avro message; raises :class:`MalformedFraming`.

    >>> read_header(b"\\x00\\x00\\x00\\x00\\x07payload")
    7
    """
    if len(value) < HEADER_SIZE:
        raise MalformedFraming(
            f"{len(value)} bytes: shorter than the 5-byte Confluent header", reason="truncated"
        )
    if value[0] != MAGIC:
        raise MalformedFraming(f"magic byte 0x{value[0]:02x}, expected 0x00")
    return int.from_bytes(value[1:HEADER_SIZE], "big")
