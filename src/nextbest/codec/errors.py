"""The codec's exceptions and the fixed set of reason codes they carry.

Every message the codec refuses raises a :class:`CodecError`. Its ``reason`` is one of
:data:`REASONS` — a short, fixed machine code that becomes the dead-letter reason and a
Prometheus label, so the set is small and never contains data. ``str(error)`` is the human
message, with the field path where there is one (``lines[0].quantity: expected int, got str``).

Two errors are deliberately *outside* the ``CodecError`` tree because the message is not at
fault and must not be dead-lettered: :class:`RegistryUnavailable` (the external Schema Registry
cannot be reached; retry) and :class:`SchemaConfigError` (the schema folder or registry.json is
broken; fail at start-up).
"""

from __future__ import annotations

from typing import Final

from nextbest.errors import NextbestError

#: Every reason code a :class:`CodecError` can carry, with what it means.
REASONS: Final[dict[str, str]] = {
    "empty_value": "the message value is empty or null",
    "bad_magic_byte": "first byte is neither 0x00 (Confluent Avro) nor '{' (JSON)",
    "truncated": "the message ends before the header or the Avro record is complete",
    "unknown_schema_id": "the schema id is not registered (or not a nextbest family)",
    "avro_decode_error": "the Avro bytes do not decode with the registered schema",
    "invalid_json": "a JSON value that does not parse or is not an object",
    "unknown_family": "no known event family (JSON 'family' field or topic)",
    "family_mismatch": "the event's family differs from the family of its topic",
    "schema_validation_failed": "the record does not match its Avro schema",
    "no_customer_identifier": "the customer carries no identifier at all",
    "invalid_value": "a field violates a rule Avro cannot express (time <= 0, rating 1..5, "
                     "an amount that is NaN or infinite, a delay without a new date after the "
                     "promised one)",
}


class CodecError(NextbestError, ValueError):
    """Root of every refusal by the codec; ``reason`` is one of :data:`REASONS`."""

    default_reason: str = "schema_validation_failed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason: str = reason or self.default_reason
        if self.reason not in REASONS:  # programming error: keep the label set closed
            raise TypeError(f"unknown codec reason code {self.reason!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {str(self)!r})"


class MalformedFraming(CodecError):
    """The bytes are not a framed message: empty, wrong magic byte or cut short."""

    default_reason = "bad_magic_byte"


class UnknownSchemaId(CodecError):
    """The 4-byte schema id in the header is not known to the registry."""

    default_reason = "unknown_schema_id"


class SchemaMismatch(CodecError):
    """Avro bytes do not decode, or a record does not match its schema."""

    default_reason = "schema_validation_failed"


class InvalidJson(CodecError):
    """A JSON event that does not parse or is not a JSON object."""

    default_reason = "invalid_json"


class UnknownFamily(CodecError):
    """No event family can be determined, or the named family does not exist."""

    default_reason = "unknown_family"


class FamilyMismatch(CodecError):
    """The event belongs to another family than its topic implies."""

    default_reason = "family_mismatch"


class ConstraintViolation(CodecError):
    """A schema-valid event breaks a semantic rule (identifier, time, rating, finite amount)."""

    default_reason = "invalid_value"


class RegistryUnavailable(NextbestError):
    """The external Schema Registry could not be asked. Transient: retry, don't dead-letter."""


class SchemaConfigError(NextbestError):
    """The schema folder, registry.json or a registered subject is inconsistent."""
