"""The data contract in code: Confluent-framed Avro and JSON events in, normalized records out.

Pure library (no Kafka import). Start with :func:`decode` / :func:`encode` (or a
:class:`Codec` bound to a :class:`SchemaRegistryClient`); every refusal is a
:class:`CodecError` whose ``reason`` is one of :data:`REASONS`.
"""

from __future__ import annotations

from nextbest.codec.checks import OUTPUT_FAMILIES
from nextbest.codec.codec import (
    DECISION_FAMILY,
    Codec,
    DecodedEvent,
    decode,
    decode_decision,
    default_codec,
    encode,
    encode_decision,
    encode_json,
)
from nextbest.codec.errors import (
    REASONS,
    CodecError,
    ConstraintViolation,
    FamilyMismatch,
    InvalidJson,
    MalformedFraming,
    RegistryUnavailable,
    SchemaConfigError,
    SchemaMismatch,
    UnknownFamily,
    UnknownSchemaId,
)
from nextbest.codec.http_registry import SchemaRegistryClient
from nextbest.codec.locate import schema_dir
from nextbest.codec.registry import EmbeddedRegistry, RegisteredSchema, SchemaSource

__all__ = [
    "DECISION_FAMILY",
    "OUTPUT_FAMILIES",
    "REASONS",
    "Codec",
    "CodecError",
    "ConstraintViolation",
    "DecodedEvent",
    "EmbeddedRegistry",
    "FamilyMismatch",
    "InvalidJson",
    "MalformedFraming",
    "RegisteredSchema",
    "RegistryUnavailable",
    "SchemaConfigError",
    "SchemaMismatch",
    "SchemaRegistryClient",
    "SchemaSource",
    "UnknownFamily",
    "UnknownSchemaId",
    "decode",
    "decode_decision",
    "default_codec",
    "encode",
    "encode_decision",
    "encode_json",
    "schema_dir",
]
