"""Faust tables seen as mappings of JSON values, for the core's identity graph and agenda."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from streams import envelope


class JsonTable(MutableMapping[str, Any]):
    """A Faust table of bytes seen as JSON values, so the core's graph can use it as a mapping."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        value = self._table.get(key)
        if value is None:
            raise KeyError(key)
        return envelope.unpack(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[key] = envelope.pack(value)

    def __delitem__(self, key: str) -> None:
        del self._table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.keys())

    def __len__(self) -> int:
        return len(self._table)
