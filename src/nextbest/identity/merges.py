"""The record of every merge, kept in the identity graph's store (and so in its changelog).

``merge:<absorbed>`` says which customer absorbed it, the identifier that linked them, when (event
time) and the identifiers the absorbed customer held at that moment: what a split gives back.
``merges:<survivor>`` lists the customers a survivor absorbed directly, so the merges behind a
customer can be walked (to split by identifier, and to forget them all on erasure).

A record lives as long as the merge: a split removes it, an erasure removes the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

MERGE = "merge:"
MERGES = "merges:"


@dataclass(frozen=True, slots=True)
class MergeRecord:
    absorbed: str
    survivor: str
    linked_by: str
    """The identifier key that brought the two customers together."""
    at: int
    """Event time of the event that linked them (0 when not known)."""
    identifiers: list[str]
    """The absorbed customer's identifier keys at the merge."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MergeRecord:
        return cls(data["absorbed"], data["survivor"], data["linked_by"], int(data["at"]),
                   list(data["identifiers"]))


class MergeHistory:
    """Merge records in a key-value store.

    >>> history = MergeHistory({})
    >>> history.add(MergeRecord("nb-b", "nb-a", "device_id:d1", 5, ["email:b@x"]))
    >>> history.add(MergeRecord("nb-c", "nb-b", "device_id:d2", 3, ["email:c@x"]))
    >>> history.live("nb-c")
    'nb-a'
    >>> [r.absorbed for r in history.behind("nb-a")]
    ['nb-b', 'nb-c']
    """

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def add(self, record: MergeRecord) -> None:
        self._store[MERGE + record.absorbed] = record.to_dict()
        absorbed = list(self._store.get(MERGES + record.survivor) or [])
        if record.absorbed not in absorbed:
            self._store[MERGES + record.survivor] = [*absorbed, record.absorbed]

    def of(self, absorbed: str) -> MergeRecord | None:
        """The merge that absorbed this customer, while it stands."""
        data = self._store.get(MERGE + absorbed)
        return MergeRecord.from_dict(data) if data is not None else None

    def live(self, customer_id: str) -> str:
        """The customer that holds ``customer_id`` now (itself unless it was absorbed)."""
        seen = {customer_id}
        while (record := self.of(customer_id)) is not None and record.survivor not in seen:
            customer_id = record.survivor
            seen.add(customer_id)
        return customer_id

    def root_apart_from(self, customer_id: str, linked_by: str) -> str:
        """Like :meth:`live`, but not following the merges ``linked_by`` made: the customer
        this one would be had that identifier never linked anybody."""
        seen = {customer_id}
        while ((record := self.of(customer_id)) is not None and record.linked_by != linked_by
               and record.survivor not in seen):
            customer_id = record.survivor
            seen.add(customer_id)
        return customer_id

    def behind(self, customer_id: str) -> Iterator[MergeRecord]:
        """Every merge standing behind a customer, the latest layer first (a customer's own
        merges before those of the customers it absorbed)."""
        queue = [customer_id]
        seen = set(queue)
        while queue:
            survivor = queue.pop(0)
            for absorbed in list(self._store.get(MERGES + survivor) or []):
                record = self.of(absorbed)
                if record is None or record.survivor != survivor or absorbed in seen:
                    continue
                seen.add(absorbed)
                yield record
                queue.append(absorbed)

    def remove(self, record: MergeRecord) -> None:
        """The merge was undone."""
        self._store.pop(MERGE + record.absorbed, None)
        absorbed = [a for a in self._store.get(MERGES + record.survivor) or []
                    if a != record.absorbed]
        if absorbed:
            self._store[MERGES + record.survivor] = absorbed
        else:
            self._store.pop(MERGES + record.survivor, None)

    def forget(self, customer_id: str) -> list[str]:
        """Remove every record behind a customer (erasure); returns the absorbed ids."""
        records = list(self.behind(customer_id))
        for record in records:
            self._store.pop(MERGE + record.absorbed, None)
            self._store.pop(MERGES + record.absorbed, None)
        self._store.pop(MERGES + customer_id, None)
        return [record.absorbed for record in records]
