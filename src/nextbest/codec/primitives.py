"""Primitive-type normalizers and the path-carrying :class:`FieldError` (see normalize.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Normalizer = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


class FieldError(Exception):
    """A value does not fit its schema; ``path`` is built up while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.parts: list[str] = []

    @property
    def path(self) -> str:
        return "".join(reversed(self.parts)).lstrip(".")

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.parts else self.message


def describe(value: Any) -> str:
    """Short, PII-light description of a value for error messages."""
    kind = "null" if value is None else type(value).__name__
    if isinstance(value, bool | int | float):
        return f"{kind} {value!r}"
    return kind


def expect(kind: str, value: Any) -> FieldError:
    return FieldError(f"expected {kind}, got {describe(value)}")


def _null(value: Any) -> None:
    if value is not None:
        raise expect("null", value)


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise expect("boolean", value)
    return value


def _integer(kind: str, low: int, high: int) -> Normalizer:
    def norm(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise expect(kind, value)
        return value

    return norm


def _floating(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value)
    raise expect("number", value)


class NotFinite(FieldError):
    """A NaN or an infinity where the record must carry a finite number (input events: the
    engine's internal topics are JSON, which cannot carry them)."""


def _finite(value: Any) -> float:
    kind = type(value)
    if kind is float:
        if value - value == 0.0:  # false for NaN and both infinities
            return value
        raise NotFinite("must be a finite number")
    if kind is int:
        return float(value)
    raise expect("number", value)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise expect("string", value)
    return text(value)


def text(value: str) -> str:
    """``value`` if UTF-8 can carry it (Avro strings and JSON both are UTF-8)."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, e.g. from bytes decoded with
            raise FieldError("expected Unicode text, got a lone surrogate") from None  # escapes
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise expect("bytes", value)
    return bytes(value)


def _timestamp_millis(value: Any) -> int:
    if type(value) is int and LONG_RANGE[0] <= value <= LONG_RANGE[1]:
        return value
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise FieldError("expected epoch milliseconds or an ISO-8601 time") from None
    if not isinstance(moment, datetime):
        raise expect("timestamp (epoch milliseconds)", value)
    if moment.tzinfo is None:
        raise FieldError("timestamp has no time zone")
    return (moment - _EPOCH) // _MS


PRIMITIVES: dict[str, Normalizer] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer("int", *INT_RANGE),
    "long": _integer("long", *LONG_RANGE),
    "float": _floating,
    "double": _floating,
    "string": _string,
    "bytes": _bytes,
}
FINITE_PRIMITIVES: dict[str, Normalizer] = {**PRIMITIVES, "float": _finite, "double": _finite}
"""``PRIMITIVES`` whose float and double refuse NaN and the infinities (:class:`NotFinite`)."""
LOGICAL: dict[str, Normalizer] = {"timestamp-millis": _timestamp_millis}
