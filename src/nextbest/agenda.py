"""The agenda: which customers to wake when event time reaches a moment.

Lapses and abandoned carts are decided by the *absence* of events, so something must wake the
customer later. Entries are grouped in buckets of event time per scope (a partition in the
worker), in any mutable mapping - a Faust table there, so the agenda survives a crash through
its changelog. Waking is idempotent: a stale entry (the customer's due moment moved) is harmless,
the engine checks the profile's own due times.

>>> agenda = Agenda({}, scope="p0", bucket_ms=60_000)
>>> agenda.schedule("nb-1", 125_000)
>>> agenda.schedule("nb-2", 30_000)
>>> agenda.pop_due(100_000)
['nb-2']
>>> agenda.pop_due(200_000)
['nb-1']
>>> agenda.pop_due(300_000)
[]
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


class Agenda:
    def __init__(self, store: MutableMapping[str, Any], *, scope: str, bucket_ms: int) -> None:
        self._store = store
        self._scope = scope
        self._bucket_ms = bucket_ms
        # The last bucket already fired. Kept in memory: it is derived (after a restart the
        # oldest pending bucket is the place to resume), and writing it would cost a changelog
        # message on nearly every event when event time runs fast.
        self._cursor: int | None = None

    def _bucket_key(self, bucket: int) -> str:
        return f"agenda:{self._scope}:{bucket}"

    def schedule(self, customer_id: str, at: int) -> None:
        """Wake ``customer_id`` once event time reaches the end of ``at``'s bucket."""
        bucket = at // self._bucket_ms
        if self._cursor is not None and bucket <= self._cursor:
            bucket = self._cursor + 1  # already due: fire with the next bucket
        key = self._bucket_key(bucket)
        members = list(self._store.get(key) or [])
        if customer_id not in members:
            members.append(customer_id)
            self._store[key] = members

    def pop_due(self, now: int) -> list[str]:
        """Customers whose bucket lies wholly at or before ``now``, removed from the agenda."""
        last_complete = now // self._bucket_ms - 1
        cursor = self._cursor
        if cursor is None:
            cursor = min(self._pending_buckets(), default=last_complete + 1) - 1
        if last_complete <= cursor:
            self._cursor = cursor
            return []
        due: list[str] = []
        for bucket in range(cursor + 1, last_complete + 1):
            members = self._store.pop(self._bucket_key(bucket), None)
            if members:
                due.extend(members)
        self._cursor = last_complete
        return list(dict.fromkeys(due))

    def _pending_buckets(self) -> list[int]:
        prefix = f"agenda:{self._scope}:"
        return [int(key[len(prefix):]) for key in self._store if key.startswith(prefix)]
