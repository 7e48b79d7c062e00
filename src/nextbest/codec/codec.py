"""Encode and decode event and decision messages: Confluent-framed Avro or JSON in, one
normalized :class:`DecodedEvent` out. Pure library: no Kafka here.

>>> purchase = {"event_id": "e1", "event_time": 1_700_000_000_000,
...             "customer": {"email": "lisa@example.com"}, "kind": "order", "order_id": "o1",
...             "lines": [{"item_id": "dress-1", "unit_price": 59.0}], "total": 59,
...             "channel": "web"}
>>> value = encode("purchase", purchase)
>>> value[:5].hex()  # magic byte 0 + schema id 2 (nextbest.events.PurchaseEvent v1)
'0000000002'
>>> decoded = decode(value, family_hint="purchase")
>>> decoded.family, decoded.schema_id, decoded.encoding
('purchase', 2, 'avro')
>>> decoded.event["total"], decoded.event["currency"], decoded.event["lines"][0]["quantity"]
(59.0, 'EUR', 1)
>>> decode(encode_json("purchase", purchase)).event == decoded.event
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import Any, Literal

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from nextbest.codec.checks import OUTPUT_FAMILIES, check_record
from nextbest.codec.errors import (
    ConstraintViolation,
    FamilyMismatch,
    MalformedFraming,
    SchemaMismatch,
    UnknownFamily,
)
from nextbest.codec.json_events import dump_json_event, parse_json_event
from nextbest.codec.normalize import FieldError, Normalizer, compile_normalizer
from nextbest.codec.primitives import NotFinite
from nextbest.codec.registry import EmbeddedRegistry, SchemaSource
from nextbest.codec.wire import HEADER_SIZE, frame_header, read_header

DECISION_FAMILY = "decision"
Encoding = Literal["avro", "json"]
Buffer = bytes | bytearray | memoryview
Value = Buffer | str
_JSON_START = 0x7B  # "{"
_WHITESPACE = frozenset(b" \t\r\n")


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """A decoded message: the record in its schema's shape (defaults filled, times as int ms)."""

    family: str
    schema_id: int | None  # None for JSON
    event: dict[str, Any]
    encoding: Encoding


class Codec:
    """Encoder/decoder bound to a schema source (embedded registry by default).

    Everything is parsed and compiled here, once; encode/decode only look things up.
    """

    def __init__(self, registry: SchemaSource | None = None) -> None:
        self.registry: SchemaSource = registry if registry is not None else EmbeddedRegistry()
        local = self.registry.local
        self.families: frozenset[str] = local.families
        self._readers: dict[str, dict[str, Any]] = {}
        self._normalizers: dict[str, Normalizer] = {}
        for family in self.families:
            latest = local.latest(family)
            self._readers[family] = latest.parsed
            logical = parse_schema(latest.definition, named_schemas={})
            self._normalizers[family] = compile_normalizer(
                logical, finite=family not in OUTPUT_FAMILIES)

    def family_from_topic(self, topic: str) -> str | None:
        """The family a topic name implies: its last dotted part naming one, else None.

        >>> default_codec().family_from_topic("events.purchase")
        'purchase'
        >>> default_codec().family_from_topic("decisions.cart_reminder")
        'decision'
        """
        for part in reversed(topic.split(".")):
            if part in self.families:
                return part
            if part == "decisions":
                return DECISION_FAMILY
        return None

    def normalize(self, family: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``record`` strictly and return it in the decoded shape, defaults filled."""
        normalizer = self._normalizers.get(family)
        if normalizer is None:
            raise UnknownFamily(f"unknown event family {family!r}")
        try:
            event: dict[str, Any] = normalizer(record)
        except NotFinite as exc:
            raise ConstraintViolation(str(exc)) from None
        except FieldError as exc:
            raise SchemaMismatch(f"{family}: {exc}") from None
        check_record(family, event)
        return event

    def encode(self, family: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        """Confluent-framed Avro bytes for ``record`` with the family's latest schema.

        ``check=False`` skips strict validation and the semantic rules (for producing
        deliberately odd test data); fastavro's writer still refuses what it cannot write.

        >>> review = {"event_id": "r1", "event_time": 1_700_000_000_000, "review_id": "v1",
        ...           "customer": {"customer_id": "42"}, "rating": 5, "source": "site"}
        >>> default_codec().encode("review", review)[:5].hex()  # magic byte 0, schema id 4
        '0000000004'
        >>> default_codec().encode("review", {**review, "rating": "5"})
        Traceback (most recent call last):
        ...
        nextbest.codec.errors.SchemaMismatch: review: rating: expected int, got str
        """
        registered = self.registry.latest(family)
        datum = self.normalize(family, record) if check else record
        buffer = BytesIO()
        buffer.write(frame_header(registered.schema_id))
        try:
            schemaless_writer(buffer, registered.parsed, datum)
        except Exception as exc:
            raise SchemaMismatch(f"{family}: cannot write record ({exc})") from exc
        return buffer.getvalue()

    def encode_json(self, family: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        """A JSON event (``{"family": ..., ...}``) for ``record``, normalized unless check=False."""
        return dump_json_event(family, self.normalize(family, record) if check else record)

    def encode_decision(self, record: Mapping[str, Any]) -> bytes:
        """Confluent-framed Avro bytes for a decision record."""
        return self.encode(DECISION_FAMILY, record)

    def decode(self, value: Value | None, family_hint: str | None = None) -> DecodedEvent:
        """Decode one message value; raises a :class:`CodecError` for anything it refuses.

        ``family_hint`` is the family the topic implies (:meth:`family_from_topic`); an event
        of another family is refused with ``family_mismatch``.

        >>> from nextbest.codec import CodecError
        >>> codec = default_codec()
        >>> event = codec.decode(b'{"event_id": "r1", "event_time": 1700000000000, "rating": 4, '
        ...     b'"review_id": "v1", "customer": {"email": "a@b.c"}, "source": "site"}',
        ...     family_hint="review")
        >>> event.family, event.schema_id, event.encoding, event.event["text"]
        ('review', None, 'json', None)
        >>> try:
        ...     codec.decode(bytes.fromhex("00000003e7") + b"garbage")
        ... except CodecError as error:
        ...     print(error.reason, "-", error)
        unknown_schema_id - schema id 999 is not registered
        """
        if family_hint is not None and family_hint not in self.families:
            raise UnknownFamily(f"topic family {family_hint!r} is not an event family")
        if not value:
            raise MalformedFraming("the message value is empty", reason="empty_value")
        if isinstance(value, str):  # tolerated: some clients hand over text
            value = value.encode("utf-8", "surrogatepass")
        first = value[0]
        if first == _JSON_START or (first in _WHITESPACE and bytes(value).lstrip()[:1] == b"{"):
            family, record = parse_json_event(value, family_hint, self.families)
            return DecodedEvent(family, None, self.normalize(family, record), "json")
        return self._decode_avro(value, family_hint)

    def _decode_avro(self, value: Buffer, family_hint: str | None) -> DecodedEvent:
        schema_id = read_header(value)
        writer = self.registry.by_id(schema_id)
        family = writer.family
        if family_hint is not None and family != family_hint:
            raise FamilyMismatch(
                f"schema id {schema_id} is a {family!r} event, topic is for {family_hint!r}"
            )
        reader = self._readers[family]
        buffer = BytesIO(value)
        buffer.seek(HEADER_SIZE)
        try:
            event = schemaless_reader(
                buffer, writer.parsed, None if writer.parsed is reader else reader
            )
        except EOFError as exc:
            raise MalformedFraming(f"{family}: Avro record cut short", reason="truncated") from exc
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:160]
            raise SchemaMismatch(
                f"{family}: Avro bytes do not decode with schema id {schema_id} ({detail})",
                reason="avro_decode_error",
            ) from exc
        extra = len(value) - buffer.tell()
        if extra:
            raise SchemaMismatch(
                f"{family}: {extra} bytes left after the Avro record", reason="avro_decode_error"
            )
        if not isinstance(event, dict):  # a registry could hand us a non-record schema
            raise SchemaMismatch(
                f"{family}: schema id {schema_id} is not a record", reason="avro_decode_error"
            )
        # The same strict rules as for JSON: fastavro reads an Avro int of any size, for one.
        return DecodedEvent(family, schema_id, self.normalize(family, event), "avro")

    def decode_decision(self, value: Value | None) -> dict[str, Any]:
        """Decode a decision message (Avro or JSON) into its record."""
        return self.decode(value, DECISION_FAMILY).event


@cache
def default_codec() -> Codec:
    """The process-wide codec over the embedded registry (built on first use)."""
    return Codec()


def encode(family: str, record: Mapping[str, Any]) -> bytes:
    """Encode with :func:`default_codec` (see :meth:`Codec.encode`)."""
    return default_codec().encode(family, record)


def encode_json(family: str, record: Mapping[str, Any]) -> bytes:
    """JSON event with :func:`default_codec` (see :meth:`Codec.encode_json`)."""
    return default_codec().encode_json(family, record)


def decode(value: Value | None, family_hint: str | None = None) -> DecodedEvent:
    """Decode with :func:`default_codec` (see :meth:`Codec.decode`)."""
    return default_codec().decode(value, family_hint)


def encode_decision(record: Mapping[str, Any]) -> bytes:
    """Encode a decision with :func:`default_codec`."""
    return default_codec().encode_decision(record)


def decode_decision(value: Value | None) -> dict[str, Any]:
    """Decode a decision with :func:`default_codec`."""
    return default_codec().decode_decision(value)
