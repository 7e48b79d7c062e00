"""The agenda: which customers to wake when event time reaches a moment.

Lapses and abandoned carts are decided by the *absence* of events, so something must wake the
customer later. Entries are grouped in buckets of event time per scope (a partition in the
worker), in any mutable mapping. The agenda is an index over the profiles' own due moments
(``CustomerProfile.due``), so after a crash it is rebuilt from the restored profiles. Waking is
idempotent: a stale entry (the customer's due moment moved) is harmless, the engine checks the
profile's own due times.

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

import heapq
from collections.abc import MutableMapping
from typing import Any


class Agenda:
    def __init__(self, store: MutableMapping[str, Any], *, scope: str, bucket_ms: int) -> None:
        self._store = store
        self._scope = scope
        self._bucket_ms = bucket_ms
        self._prefix = f"agenda:{scope}:"
        # Buckets holding entries, as a heap. Derived from the store (read once, on first use),
        # so event time can leap months ahead without visiting every empty minute between.
        self._pending: list[int] | None = None
        self._pending_set: set[int] = set()

    def _bucket_key(self, bucket: int) -> str:
        return f"{self._prefix}{bucket}"

    def _index(self) -> list[int]:
        if self._pending is None:
            prefix = self._prefix
            # Other keys under the prefix (an older layout's cursor) are not buckets.
            suffixes = (k[len(prefix) :] for k in self._store if k.startswith(prefix))
            buckets = [int(s) for s in suffixes if s.lstrip("-").isdigit()]
            self._pending_set = set(buckets)
            self._pending = sorted(self._pending_set)
        return self._pending

    def schedule(self, customer_id: str, at: int) -> None:
        """Wake ``customer_id`` once event time reaches the end of ``at``'s bucket."""
        bucket = at // self._bucket_ms
        key = self._bucket_key(bucket)
        members = list(self._store.get(key) or [])
        if customer_id not in members:
            members.append(customer_id)
            self._store[key] = members
        pending = self._index()
        if bucket not in self._pending_set:
            self._pending_set.add(bucket)
            heapq.heappush(pending, bucket)

    def any_due(self, now: int) -> bool:
        """Whether :meth:`pop_due` at ``now`` would return anyone (nothing is removed)."""
        pending = self._index()
        return bool(pending) and pending[0] <= now // self._bucket_ms - 1

    def pop_due(self, now: int) -> list[str]:
        """Customers whose bucket lies wholly at or before ``now``, removed from the agenda."""
        last_complete = now // self._bucket_ms - 1
        pending = self._index()
        due: list[str] = []
        while pending and pending[0] <= last_complete:
            bucket = heapq.heappop(pending)
            self._pending_set.discard(bucket)
            due.extend(self._store.pop(self._bucket_key(bucket), None) or [])
        return list(dict.fromkeys(due))
