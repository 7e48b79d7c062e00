"""The identity graph: every identifier (email, phone, device, loyalty id, POS id, the shop's own
customer number) points at one canonical nextbest customer id.

Identifiers that arrive together are linked; when they point at two different customers, the two
become one (the smaller id survives, so the outcome does not depend on which worker sees it).
The graph lives in any mutable mapping: a dict in process, the identity writer's store (whose
changes it writes to a compacted topic) in the worker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from nextbest.errors import UnprocessableEvent

IDENTIFIER_KINDS = ("customer_id", "loyalty_id", "email", "phone", "pos_id", "device_id")
_MEMBERS = "members:"
_ID = "id:"
_NOT_DIGITS = re.compile(r"[^\d]")


def normalise(kind: str, value: str) -> str:
    """The comparable form of an identifier.

    >>> normalise("email", "  Lisa@Example.COM ")
    'lisa@example.com'
    >>> normalise("phone", "+49 (170) 123-4567")
    '+491701234567'
    """
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return ("+" if value.startswith("+") else "") + _NOT_DIGITS.sub("", value)
    return value


def identifier_keys(ref: dict[str, Any] | None) -> list[str]:
    """``kind:value`` keys of a customer reference, strongest identifier first.

    >>> identifier_keys({"email": "A@b.c", "device_id": "d1", "phone": None})
    ['email:a@b.c', 'device_id:d1']
    """
    if not ref:
        return []
    keys = []
    for kind in IDENTIFIER_KINDS:
        value = ref.get(kind)
        if value:
            normalised = normalise(kind, str(value))
            if normalised:
                keys.append(f"{kind}:{normalised}")
    return keys


def reference_keys(reference: str) -> list[str]:
    """The identifier keys a reference typed by a person or a client may stand for, normalised
    as the router normalises the identifiers it links.

    ``kind:value`` names one key; a bare value may be any kind, strongest first (kinds it
    cannot be, like a phone number without digits, are left out).

    >>> reference_keys("email:Lisa@Example.COM ")
    ['email:lisa@example.com']
    >>> reference_keys("phone:+49 (170) 123-4567")
    ['phone:+491701234567']
    >>> [key.partition(":")[0] for key in reference_keys("Lisa@Example.com")]
    ['customer_id', 'loyalty_id', 'email', 'pos_id', 'device_id']
    >>> reference_keys("email:Lisa@Example.com")[0] == reference_keys("Lisa@Example.com")[2]
    True
    """
    kind, sep, value = reference.partition(":")
    if sep and kind in IDENTIFIER_KINDS:
        normalised = normalise(kind, value)
        return [f"{kind}:{normalised}"] if normalised else []
    return identifier_keys(dict.fromkeys(IDENTIFIER_KINDS, reference))


def new_customer_id(first_key: str) -> str:
    return "nb-" + hashlib.blake2b(first_key.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Resolution:
    customer_id: str
    new_identifiers: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Customer ids folded into ``customer_id`` by this resolution."""


class IdentityGraph:
    """Resolves customer references against a key-value store.

    >>> graph = IdentityGraph({})
    >>> a = graph.resolve({"device_id": "d1"}).customer_id
    >>> b = graph.resolve({"email": "lisa@example.com"}).customer_id
    >>> linked = graph.resolve({"device_id": "d1", "email": "lisa@example.com"})
    >>> linked.customer_id == min(a, b), linked.merged == [max(a, b)]
    (True, True)
    >>> graph.lookup("device_id:d1") == graph.lookup("email:lisa@example.com")
    True
    """

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def lookup(self, key: str) -> str | None:
        value = self._store.get(_ID + key)
        return str(value) if value is not None else None

    def members(self, customer_id: str) -> list[str]:
        return list(self._store.get(_MEMBERS + customer_id) or [])

    def resolve(self, ref: dict[str, Any] | None) -> Resolution:
        keys = identifier_keys(ref)
        if not keys:
            raise UnprocessableEvent("no_customer_identifier", "the event names no customer")
        found = {key: self.lookup(key) for key in keys}
        known = sorted({cid for cid in found.values() if cid is not None})
        survivor = known[0] if known else new_customer_id(keys[0])
        merged = known[1:]
        members = self.members(survivor)
        for absorbed in merged:
            for key in self.members(absorbed):
                self._store[_ID + key] = survivor
                members.append(key)
            self._store.pop(_MEMBERS + absorbed, None)
        new = [key for key, cid in found.items() if cid is None]
        for key in new:
            self._store[_ID + key] = survivor
            members.append(key)
        if new or merged:
            self._store[_MEMBERS + survivor] = members
        return Resolution(survivor, new, merged)

    def forget(self, customer_id: str) -> list[str]:
        """Remove a customer and all their identifiers (erasure). Returns the keys removed."""
        keys = self.members(customer_id)
        for key in keys:
            self._store.pop(_ID + key, None)
        self._store.pop(_MEMBERS + customer_id, None)
        return keys
