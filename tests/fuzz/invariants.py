"""What the codec promises whatever bytes or values it is given; the fuzz targets check it.

* Decoding (:func:`check_decode`) raises nothing but a :class:`CodecError` whose ``reason`` is
  one of :data:`REASONS` (the dead-letter reasons). A record it accepts is stable: the codec
  normalizes it to itself, and an input event's JSON form (what a JSON producer would send, and
  what the router hands the customer stage) decodes to the same event.
* Normalizing (:func:`check_normalize`) raises nothing but such a :class:`CodecError`; a record
  it accepts encodes, and decodes from Avro and from JSON to the normalized record.

A fuzz input carries the family hint in its first byte (:func:`split`), so the seed corpus can
hold each message with the hint of the topic it would come from.
"""

from __future__ import annotations

from typing import Any

from nextbest.codec import OUTPUT_FAMILIES, REASONS, Codec, CodecError

UNKNOWN_HINT = "no_such_family"
AS_TEXT = 0x80
"""Set in the first byte: hand the value to the codec as ``str`` (some clients do)."""


def hints(codec: Codec) -> tuple[str | None, ...]:
    """The family hints an input can select: none, every family, one that does not exist."""
    return (None, *sorted(codec.families), UNKNOWN_HINT)


def split(codec: Codec, data: bytes) -> tuple[str | None, bytes | str]:
    """The (family hint, message value) a fuzz input stands for."""
    if not data:
        return None, b""
    options = hints(codec)
    hint = options[(data[0] & ~AS_TEXT) % len(options)]
    value = data[1:]
    if data[0] & AS_TEXT:
        return hint, value.decode("utf-8", "surrogateescape")
    return hint, value


def join(codec: Codec, hint: str | None, value: bytes) -> bytes:
    """The fuzz input for ``value`` on a topic of ``hint`` (inverse of :func:`split`)."""
    return bytes([hints(codec).index(hint)]) + value


def refused(error: CodecError) -> None:
    """A refusal is fine only with a dead-letter reason of the closed set."""
    if error.reason not in REASONS:
        raise AssertionError(f"reason {error.reason!r} is not a dead-letter reason: {error}")


def check_decode(codec: Codec, hint: str | None, value: bytes | str) -> None:
    try:
        decoded = codec.decode(value, family_hint=hint)
    except CodecError as error:
        refused(error)
        return
    check_stable(codec, decoded.family, decoded.event)


def check_normalize(codec: Codec, family: str, record: Any) -> None:
    try:
        event = codec.normalize(family, record)
    except CodecError as error:
        refused(error)
        return
    avro = codec.decode(codec.encode(family, event, check=False), family_hint=family)
    same(event, avro.event, "the record back from Avro")
    check_stable(codec, family, event)


def check_stable(codec: Codec, family: str, event: dict[str, Any]) -> None:
    """An accepted record normalizes to itself; an input event survives its JSON form."""
    same(event, codec.normalize(family, event), "the record normalized again")
    if family not in OUTPUT_FAMILIES:
        from_json = codec.decode(codec.encode_json(family, event, check=False))
        same(event, from_json.event, "the event back from JSON")


def same(expected: Any, actual: Any, what: str) -> None:
    """Equal values of equal types (``repr`` tells 1 from 1.0 and True from 1)."""
    if repr(actual) != repr(expected):
        raise AssertionError(f"{what} differs:\n  {actual!r}\nexpected\n  {expected!r}")
