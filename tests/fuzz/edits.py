"""Structure-aware changes to a valid record, driven by the fuzzer's bytes.

Byte mutations of JSON text mostly break the JSON, so the normalize target starts from a real
record instead and lets the input decide a few edits: which value (at any depth) to replace with
what, which member to drop, which to add. Replacements are whatever a Python producer could hand
over: None, booleans, integers of any size, NaN and infinities, any text (lone surrogates too),
ISO-8601 strings, datetimes with and without a zone, bytes, lists, tuples and objects.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import atheris

SPECIAL_FLOATS = (float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 2.0**63)
TIMES = ("2023-11-14T22:13:20+00:00", "2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20",
         "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z")


def edited(data: atheris.FuzzedDataProvider, record: dict[str, Any]) -> Any:
    """A deep copy of ``record`` with one to four edits the input chooses."""
    root: list[Any] = [copy.deepcopy(record)]
    for _ in range(data.ConsumeIntInRange(1, 4)):
        places = list(_places(root, 0))
        container, key = places[data.ConsumeIntInRange(0, len(places) - 1)]
        action = data.ConsumeIntInRange(0, 5)
        if action == 0 and isinstance(container, dict):
            del container[key]
        elif action == 1 and isinstance(container, dict):
            container[data.ConsumeUnicode(12)] = value(data, 2)
        elif action == 2 and isinstance(container[key], list):
            container[key].append(value(data, 2))
        else:
            container[key] = value(data, 2)
    return root[0]


def _places(container: Any, key: Any) -> Any:
    """(container, key) of every value in the tree below ``container[key]``, itself first."""
    yield container, key
    child = container[key]
    if isinstance(child, dict):
        for name in child:
            yield from _places(child, name)
    elif isinstance(child, list):
        for index in range(len(child)):
            yield from _places(child, index)


def value(data: atheris.FuzzedDataProvider, depth: int) -> Any:
    kind = data.ConsumeIntInRange(0, 13 if depth > 0 else 10)
    if kind == 0:
        return None
    if kind == 1:
        return data.ConsumeBool()
    if kind == 2:
        return data.ConsumeIntInRange(-5, 10)
    if kind == 3:
        return data.ConsumeInt(data.ConsumeIntInRange(1, 10))  # up to 80 bits
    if kind == 4:
        return data.ConsumeRegularFloat()
    if kind == 5:
        return SPECIAL_FLOATS[data.ConsumeIntInRange(0, len(SPECIAL_FLOATS) - 1)]
    if kind == 6:
        return data.ConsumeUnicode(data.ConsumeIntInRange(0, 40))
    if kind == 7:
        return TIMES[data.ConsumeIntInRange(0, len(TIMES) - 1)]
    if kind == 8:
        return _datetime(data)
    if kind == 9:
        return data.ConsumeBytes(data.ConsumeIntInRange(0, 16))
    if kind == 10:
        return data.ConsumeUnicode(4)  # short text: often an enum symbol's neighbour
    items = [value(data, depth - 1) for _ in range(data.ConsumeIntInRange(0, 3))]
    if kind == 11:
        return items
    if kind == 12:
        return tuple(items)
    return {data.ConsumeUnicode(8): item for item in items}


def _datetime(data: atheris.FuzzedDataProvider) -> datetime:
    moment = datetime(1, 1, 1) + timedelta(seconds=data.ConsumeIntInRange(0, 315_537_897_599))
    if data.ConsumeBool():
        return moment
    offset = timedelta(minutes=data.ConsumeIntInRange(-1439, 1439))
    return moment.replace(tzinfo=timezone(offset))
