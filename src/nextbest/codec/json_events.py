"""JSON events: ``{"family": "purchase", ...fields}`` or a bare record whose topic names it.

The family comes from the ``family`` member or, failing that, from the topic
(``events.purchase`` → ``purchase``); when both are there they must agree. ``family`` is
reserved: no event schema may define a field of that name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from nextbest.codec.errors import FamilyMismatch, InvalidJson, UnknownFamily

FAMILY_KEY = "family"


def parse_json_event(
    value: bytes | bytearray | memoryview,
    family_hint: str | None,
    families: Collection[str],
) -> tuple[str, dict[str, Any]]:
    """Parse a JSON event and settle its family; the record still carries ``family``.

    >>> parse_json_event(b'{"family": "review", "rating": 5}', None, {"review"})
    ('review', {'family': 'review', 'rating': 5})
    >>> parse_json_event(b'{"rating": 5}', "review", {"review"})[0]
    'review'
    """
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"value is not valid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise InvalidJson(f"a JSON event must be an object, got {type(record).__name__}")
    family = record.get(FAMILY_KEY)
    if family is None:
        if family_hint is None:
            raise UnknownFamily("JSON event has no 'family' and its topic names none")
        return family_hint, record
    if not isinstance(family, str) or family not in families:
        shown = repr(family)[:40] if isinstance(family, str) else type(family).__name__
        raise UnknownFamily(f"family: {shown} is not one of {'|'.join(sorted(families))}")
    if family_hint is not None and family != family_hint:
        raise FamilyMismatch(f"family: {family!r} on a {family_hint!r} topic")
    return family, record


def dump_json_event(family: str, record: Mapping[str, Any]) -> bytes:
    """Serialize a record as a JSON event (what a JSON producer would send).

    >>> dump_json_event("review", {"rating": 5})
    b'{"family":"review","rating":5}'
    """
    return orjson.dumps({FAMILY_KEY: family, **record})
