"""Strict validation + normalization of plain dicts against an Avro schema, compiled once.

``compile_normalizer(schema)`` turns a fastavro-parsed schema into a function that takes a
record as Python/JSON values and returns it in exactly the shape fastavro's reader produces:
fields in schema order, missing fields filled from their defaults, ``int`` promoted to
``float`` for float/double, ``timestamp-millis`` as int epoch milliseconds (ISO-8601 strings
with a zone and aware datetimes are accepted and converted). It is stricter than fastavro's
writer, which silently truncates ``1.5`` into a long and writes ``True`` as a double. It is
also ~10x faster than ``fastavro.validation.validate``. Errors carry the field path.

Fields the schema does not know are ignored (a producer on a newer schema version stays
readable), exactly as Avro schema resolution drops them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from nextbest.codec.primitives import (
    FINITE_PRIMITIVES,
    LOGICAL,
    PRIMITIVES,
    FieldError,
    Normalizer,
    NotFinite,
    describe,
    expect,
    text,
)

__all__ = ["FieldError", "Normalizer", "compile_normalizer"]

_MISSING = object()


def compile_normalizer(schema: Any, *, finite: bool = False) -> Normalizer:
    """Compile a fastavro-parsed schema (logical types kept) into a normalizer; ``finite``:
    one whose floats and doubles refuse NaN and the infinities (``NotFinite``, with the path).

    >>> from fastavro import parse_schema
    >>> norm = compile_normalizer(parse_schema({"type": "record", "name": "R", "fields": [
    ...     {"name": "n", "type": "double"}, {"name": "tags", "type": {"type": "array",
    ...     "items": "string"}, "default": []}]}))
    >>> norm({"n": 2})
    {'n': 2.0, 'tags': []}
    >>> norm({"n": 1, "tags": ["a", 3]})
    Traceback (most recent call last):
    ...
    nextbest.codec.primitives.FieldError: tags[1]: expected string, got int 3
    >>> compile_normalizer(parse_schema({"type": "record", "name": "R", "fields": [
    ...     {"name": "n", "type": "double"}]}), finite=True)({"n": float("nan")})
    Traceback (most recent call last):
    ...
    nextbest.codec.primitives.NotFinite: n: must be a finite number
    """
    return _compile(schema, {}, FINITE_PRIMITIVES if finite else PRIMITIVES)


def _compile(schema: Any, named: dict[str, Normalizer],
             primitives: dict[str, Normalizer]) -> Normalizer:
    if isinstance(schema, str):
        if schema in primitives:
            return primitives[schema]
        return lambda value: named[schema](value)  # a named type, possibly recursive
    if isinstance(schema, list):
        return _union(schema, named, primitives)
    kind = schema["type"]
    if kind in ("record", "error"):
        return _record(schema, named, primitives)
    if kind == "enum":
        return _enum(schema, named)
    if kind == "array":
        return _array(_compile(schema["items"], named, primitives))
    if kind == "map":
        return _map(_compile(schema["values"], named, primitives))
    if kind == "fixed":
        return _fixed(schema, named)
    logical = LOGICAL.get(schema.get("logicalType", ""))
    return logical if logical and kind == "long" else _compile(kind, named, primitives)


def _record(schema: dict[str, Any], named: dict[str, Normalizer],
            primitives: dict[str, Normalizer]) -> Normalizer:
    fields: list[tuple[str, Normalizer, Callable[[], Any] | None]] = []
    short = str(schema["name"]).rsplit(".", 1)[-1]

    def norm(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise expect(f"object ({short})", value)
        out: dict[str, Any] = {}
        for name, field_norm, default in fields:
            item = value.get(name, _MISSING)
            try:
                if item is _MISSING:
                    if default is None:
                        raise FieldError("required field is missing")
                    out[name] = default()
                else:
                    out[name] = field_norm(item)
            except FieldError as exc:
                exc.parts.append(f".{name}")
                raise
        return out

    named[schema["name"]] = norm
    for field in schema["fields"]:
        field_norm = _compile(field["type"], named, primitives)
        default = _default_factory(field_norm, field["default"]) if "default" in field else None
        fields.append((field["name"], field_norm, default))
    return norm


def _default_factory(norm: Normalizer, raw_default: Any) -> Callable[[], Any]:
    try:
        value = norm(raw_default)
    except FieldError:  # e.g. a union whose default names a later branch; check lazily
        return lambda: norm(raw_default)
    if isinstance(value, list | dict):
        return lambda: copy.deepcopy(value) if value else type(value)()
    return lambda: value


def _union(branches: list[Any], named: dict[str, Normalizer],
           primitives: dict[str, Normalizer]) -> Normalizer:
    norms = [_compile(branch, named, primitives) for branch in branches]
    if len(branches) == 2 and "null" in branches:
        other = norms[1] if branches[0] == "null" else norms[0]
        return lambda value: None if value is None else other(value)

    def norm(value: Any) -> Any:
        first: FieldError | None = None
        for branch in norms:
            try:
                return branch(value)
            except NotFinite:
                raise  # a number, refused for what it is
            except FieldError as exc:
                first = first or exc
        raise FieldError(f"matches no branch of the union ({first})")

    return norm


def _enum(schema: dict[str, Any], named: dict[str, Normalizer]) -> Normalizer:
    symbols = frozenset(schema["symbols"])
    listing = "|".join(schema["symbols"])

    def norm(value: Any) -> str:
        if type(value) is not str or value not in symbols:
            shown = repr(value) if isinstance(value, str) and len(value) <= 40 else describe(value)
            raise FieldError(f"{shown} is not one of {listing}")
        return value

    named[schema["name"]] = norm
    return norm


def _fixed(schema: dict[str, Any], named: dict[str, Normalizer]) -> Normalizer:
    size = int(schema["size"])

    def norm(value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray) or len(value) != size:
            raise expect(f"{size} bytes", value)
        return bytes(value)

    named[schema["name"]] = norm
    return norm


def _array(item_norm: Normalizer) -> Normalizer:
    def norm(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise expect("array", value)
        out = []
        for index, item in enumerate(value):
            try:
                out.append(item_norm(item))
            except FieldError as exc:
                exc.parts.append(f"[{index}]")
                raise
        return out

    return norm


def _map(value_norm: Normalizer) -> Normalizer:
    def norm(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise expect("object (map)", value)
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise expect("string map key", key)
            text(key)
            try:
                out[key] = value_norm(item)
            except FieldError as exc:
                exc.parts.append(f".{key}")
                raise
        return out

    return norm
