"""Avro schema-resolution compatibility, for checking schema evolution mechanically.

``resolution_problems(reader, writer)`` lists why data written with ``writer`` could not be read
with ``reader`` (empty list: it can). BACKWARD compatibility of a new version means
``resolution_problems(new, old) == []``; FORWARD means ``resolution_problems(old, new) == []``.
See ``schemas/EVOLUTION.md``.

>>> from nextbest.codec.registry import parse_definition
>>> old = parse_definition({"type": "record", "name": "E", "fields": [
...     {"name": "a", "type": "int"}]})
>>> new = parse_definition({"type": "record", "name": "E", "fields": [
...     {"name": "a", "type": "long"}, {"name": "b", "type": "string"}]})
>>> resolution_problems(new, old)  # int -> long is a promotion; b needs a default
['b: field added without a default']
>>> resolution_problems(old, new)  # old readers ignore b, but cannot narrow long to int
['a: type changed from long to int']
"""

from __future__ import annotations

from typing import Any

#: writer type -> reader types it may be read as (the promotions of the Avro spec)
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_PRIMITIVES = frozenset(["null", "boolean", "int", "long", "float", "double", "bytes", "string"])


class _Context:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader_names: dict[str, Any] = _named(reader)
        self.writer_names: dict[str, Any] = _named(writer)
        self.seen: set[tuple[str, str]] = set()
        self.problems: list[str] = []


def _named(schema: Any) -> dict[str, Any]:
    return dict(schema.get("__named_schemas", {})) if isinstance(schema, dict) else {}


def resolution_problems(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read what ``writer`` wrote; both fastavro-parsed schemas."""
    context = _Context(reader, writer)
    _check(reader, writer, "", context)
    return context.problems


def _resolve(schema: Any, names: dict[str, Any]) -> Any:
    while isinstance(schema, str) and schema not in _PRIMITIVES:
        schema = names[schema]
    while isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
        schema = schema["type"]
    return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema["type"])


def _short(schema: Any) -> str:
    return str(schema.get("name", "")).rsplit(".", 1)[-1]


def _fits(reader: Any, writer: Any, context: _Context) -> bool:
    trial = _Context({}, {})
    trial.reader_names, trial.writer_names = context.reader_names, context.writer_names
    trial.seen = set(context.seen)
    _check(reader, writer, "", trial)
    return not trial.problems


def _check(reader: Any, writer: Any, path: str, context: _Context) -> None:
    reader = _resolve(reader, context.reader_names)
    writer = _resolve(writer, context.writer_names)
    where = path or "<root>"
    if isinstance(writer, list):
        for branch in writer:
            _check(reader, branch, path, context)
        return
    if isinstance(reader, list):
        if not any(_fits(branch, writer, context) for branch in reader):
            context.problems.append(f"{where}: {_kind(writer)} matches no branch of the union")
        return
    r_kind, w_kind = _kind(reader), _kind(writer)
    if r_kind != w_kind:
        if r_kind not in PROMOTIONS.get(w_kind, frozenset()):
            context.problems.append(f"{where}: type changed from {w_kind} to {r_kind}")
        return
    if r_kind in ("record", "error", "enum", "fixed") and _short(reader) != _short(writer):
        context.problems.append(f"{where}: renamed {_short(writer)} to {_short(reader)}")
        return
    if r_kind in ("record", "error"):
        _check_record(reader, writer, path, context)
    elif r_kind == "enum":
        lost = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if lost and "default" not in reader:
            context.problems.append(f"{where}: symbols {lost} removed and the enum has no default")
    elif r_kind == "array":
        _check(reader["items"], writer["items"], f"{path}[]", context)
    elif r_kind == "map":
        _check(reader["values"], writer["values"], f"{path}{{}}", context)
    elif r_kind == "fixed" and reader["size"] != writer["size"]:
        context.problems.append(f"{where}: fixed size changed")


def _check_record(reader: Any, writer: Any, path: str, context: _Context) -> None:
    key = (str(reader["name"]), str(writer["name"]))
    if key in context.seen:
        return
    context.seen.add(key)
    written = {field["name"]: field for field in writer["fields"]}
    for field in reader["fields"]:
        field_path = f"{path}.{field['name']}" if path else field["name"]
        if field["name"] in written:
            _check(field["type"], written[field["name"]]["type"], field_path, context)
        elif "default" not in field:
            context.problems.append(f"{field_path}: field added without a default")
