"""Shared identifiers: a family tablet's device id, a store's POS terminal, a call centre's phone.

Identifier kinds are ranked (``IDENTIFIER_KINDS``, strongest first). The strong kinds name one
person: the shop's customer number, a loyalty card, an email address. The weak kinds may be used
by several: a phone, a POS reference, a device. A weak identifier seen with the strong identities
of more than ``limit`` distinct customers is marked shared: it links nobody from then on.

Sightings are counted before anything is merged, by the customer each strong identity belonged
to apart from the merges the weak identifier made itself (those merges would make every
sighting the same customer). ``seen:<key>`` keeps those customers (at most ``limit + 1``) until
the identifier is shared; ``shared:<key>`` marks it for good (every replica of the graph reads
it, so routers leave the identifier out before they look a customer up).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

STRONG_KINDS = ("customer_id", "loyalty_id", "email")
WEAK_KINDS = ("phone", "pos_id", "device_id")
SEEN = "seen:"
SHARED = "shared:"
DEFAULT_LIMIT = 3


def is_strong(key: str) -> bool:
    """Whether an identifier key names one person.

    >>> is_strong("email:lisa@example.com"), is_strong("device_id:tablet-1")
    (True, False)
    """
    return key.partition(":")[0] in STRONG_KINDS


def usable_keys(keys: list[str], is_shared: Callable[[str], bool]) -> list[str]:
    """The keys an event is resolved by: all but the shared ones (order kept)."""
    return [key for key in keys if not is_shared(key)]


class SharedIdentifiers:
    """Sightings of weak identifiers and the shared marks, in the graph's store."""

    def __init__(self, store: MutableMapping[str, Any], limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a shared identifier limit below 1 would link nobody")
        self._store = store
        self.limit = limit

    def is_shared(self, key: str) -> bool:
        return SHARED + key in self._store

    def sighted(self, key: str, customer_id: str, root: Callable[[str], str]) -> bool:
        """Note that the weak identifier ``key`` came with the strong identity of
        ``customer_id``; True when it has now been seen with more than ``limit`` customers.
        ``root`` maps a customer to the one it is apart from this identifier's own merges."""
        distinct = list(dict.fromkeys(root(c) for c in self._store.get(SEEN + key) or []))
        customer = root(customer_id)
        if customer in distinct:
            return False  # nothing written: a re-delivered event changes nothing
        distinct.append(customer)
        self._store[SEEN + key] = distinct
        return len(distinct) > self.limit

    def mark(self, key: str, at: int, how: str) -> None:
        """``key`` is shared from now on (``how``: ``limit`` or ``request``)."""
        customers = len(self._store.pop(SEEN + key, None) or [])
        self._store[SHARED + key] = {"at": at, "customers": customers, "how": how}

    def forget(self, key: str) -> None:
        """An erased customer's own identifier: its sightings go (a shared mark stays: it
        belongs to nobody)."""
        self._store.pop(SEEN + key, None)
