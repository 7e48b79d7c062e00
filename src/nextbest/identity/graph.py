"""The identity graph: every identifier (email, phone, device, loyalty id, POS id, the shop's own
customer number) points at one canonical nextbest customer id.

Identifiers that arrive together are linked; when they point at two different customers, the two
become one (the smaller id survives, so the outcome does not depend on which worker sees it).
The graph lives in any mutable mapping: a dict in process, the identity writer's store (whose
changes it writes to a compacted topic) in the worker.

Two safeguards keep one shared identifier from making one customer of many people: a weak
identifier seen with too many customers is marked shared and links nobody any more
(``identity/shared.py``), and every merge is recorded (``identity/merges.py``) so that it can be
undone - the absorbed customer gets its identifiers back (:meth:`IdentityGraph.split`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from nextbest.errors import UnprocessableEvent
from nextbest.identity.merges import MergeHistory, MergeRecord
from nextbest.identity.shared import DEFAULT_LIMIT, SharedIdentifiers, is_strong, usable_keys

IDENTIFIER_KINDS = ("customer_id", "loyalty_id", "email", "phone", "pos_id", "device_id")
SPLIT_REQUESTED = "split_requested"
"""The identity event kind that asks for merges to be undone (:meth:`IdentityGraph.split`)."""
_MEMBERS = "members:"
_ID = "id:"
_SPLIT_DONE = "split-done:"
"""Split requests carried out, by event id (no personal data: kept for good)."""
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
class Split:
    """A merge undone: ``identifiers`` went back to ``absorbed`` from the customer that had
    absorbed it (``survivor``, or whoever absorbed that one since)."""

    absorbed: str
    survivor: str
    identifiers: list[str]


@dataclass(frozen=True, slots=True)
class Resolution:
    customer_id: str
    new_identifiers: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Customer ids folded into ``customer_id`` by this resolution."""
    splits: list[Split] = field(default_factory=list)
    """Merges undone before, because an identifier of the event turned out shared."""
    shared: list[str] = field(default_factory=list)
    """The event's identifier keys left out because they are shared."""


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

    ``shared_limit``: how many distinct customers a weak identifier (phone, POS id, device) may
    be seen with before it is marked shared (``identity/shared.py``).
    """

    def __init__(self, store: MutableMapping[str, Any], shared_limit: int = DEFAULT_LIMIT
                 ) -> None:
        self._store = store
        self.history = MergeHistory(store)
        self.shared = SharedIdentifiers(store, shared_limit)

    def lookup(self, key: str) -> str | None:
        value = self._store.get(_ID + key)
        return str(value) if value is not None else None

    def members(self, customer_id: str) -> list[str]:
        return list(self._store.get(_MEMBERS + customer_id) or [])

    def resolve(self, ref: dict[str, Any] | None, at: int = 0) -> Resolution:
        """The customer an event's reference names, linking what it names together (``at``:
        the event's time, for the merge records). Shared identifiers are left out; an event
        naming nothing else is unprocessable (``shared_identifier_only``)."""
        keys = identifier_keys(ref)
        if not keys:
            raise UnprocessableEvent("no_customer_identifier", "the event names no customer")
        usable = usable_keys(keys, self.shared.is_shared)
        splits = self._count_sightings(usable, at)
        if not usable:
            raise UnprocessableEvent("shared_identifier_only",
                                     "the event names only identifiers shared by several "
                                     "customers")
        survivor, new, merged = self._link(usable, at)
        shared = [key for key in keys if key not in usable]
        return Resolution(survivor, new, merged, splits, shared)

    def split(self, ref: dict[str, Any] | None, at: int = 0, *,
              request: str | None = None) -> list[Split]:
        """A split request: a weak identifier it names is declared shared (every merge it
        linked is undone); for a strong one, the merges it linked are undone, or if it linked
        none, the merge that brought it in. ``request``: the request's event id - a request
        carried out before (re-delivered, replayed) undoes nothing more."""
        keys = identifier_keys(ref)
        if not keys:
            raise UnprocessableEvent("no_customer_identifier", "the event names no customer")
        if request is not None:
            if _SPLIT_DONE + request in self._store:
                return []
            self._store[_SPLIT_DONE + request] = at
        splits: list[Split] = []
        for key in keys:
            if self.shared.is_shared(key):
                continue
            if not is_strong(key):
                splits += self._mark_shared(key, at, "request")
                continue
            owner = self.lookup(key)
            if owner is None:
                continue
            behind = list(self.history.behind(owner))
            records = [r for r in behind if r.linked_by == key]
            if not records:
                records = [r for r in behind if key in r.identifiers][-1:]
            splits += [s for s in map(self._undo, records) if s is not None]
        return splits

    def forget(self, customer_id: str) -> list[str]:
        """Remove a customer, all their identifiers and the record of the merges behind them
        (erasure). Returns the identifier keys removed."""
        keys = self.members(customer_id)
        for key in keys:
            self._store.pop(_ID + key, None)
            self.shared.forget(key)
        self._store.pop(_MEMBERS + customer_id, None)
        self.history.forget(customer_id)
        return keys

    # --- linking ------------------------------------------------------------------------------

    def _count_sightings(self, usable: list[str], at: int) -> list[Split]:
        """Count the strong identity the event names for each weak identifier with it; one
        seen with too many is marked shared and taken out of ``usable``."""
        strong = [key for key in usable if is_strong(key)]
        if not strong:
            return []
        splits: list[Split] = []
        for key in [k for k in usable if not is_strong(k)]:
            def root(customer_id: str, key: str = key) -> str:
                return self.history.root_apart_from(customer_id, key)
            identity = min(self._own_customer(s, key) for s in strong)
            if self.shared.sighted(key, identity, root):
                splits += self._mark_shared(key, at, "limit")
                usable.remove(key)
        return splits

    def _own_customer(self, strong: str, weak: str) -> str:
        """The customer the strong identifier ``strong`` would belong to had the weak one never
        linked anybody: the customer it came with when ``weak`` merged it into another (a
        person first seen with a known phone is that phone's customer now, but counts as
        themself), else the one holding it, else the one it will make."""
        holder = self.lookup(strong)
        if holder is None:
            return new_customer_id(strong)
        for record in self.history.behind(holder):
            if record.linked_by == weak and strong in record.identifiers:
                return record.absorbed
        return holder

    def _link(self, keys: list[str], at: int) -> tuple[str, list[str], list[str]]:
        """Link ``keys``: unknown ones join the customer of the known ones, and the customers
        of known ones merge into the smallest id, each merge recorded with the identifier that
        linked it. Returns the survivor, the new keys and the merged customers."""
        found = {key: self.lookup(key) for key in keys}
        new = [key for key, cid in found.items() if cid is None]
        held: dict[str, list[str]] = {}
        for key, cid in found.items():
            if cid is not None:
                held.setdefault(cid, []).append(key)
        known = sorted(held)
        survivor = known[0] if known else new_customer_id(keys[0])
        strong_customers = {found[k] for k in keys if is_strong(k) and found[k] is not None}
        members = self.members(survivor)
        for absorbed in known[1:]:
            # A customer holding one of the event's strong identifiers was linked by what the
            # survivor holds; one reached by weak identifiers only, by those.
            linked_by = held[survivor if absorbed in strong_customers else absorbed][0]
            moved = self.members(absorbed)
            self.history.add(MergeRecord(absorbed, survivor, linked_by, at, moved))
            for key in moved:
                self._store[_ID + key] = survivor
            members += moved
            self._store.pop(_MEMBERS + absorbed, None)
        new_strong = [key for key in new if is_strong(key)]
        if known and new_strong and not strong_customers:
            # A strong identity seen for the first time with weak identifiers of a known
            # customer: recorded as a merge of its own customer, so it can be given back.
            identity = new_customer_id(new_strong[0])
            if identity != survivor:
                self.history.add(MergeRecord(identity, survivor, held[survivor][0], at,
                                             new_strong))
        for key in new:
            self._store[_ID + key] = survivor
            members.append(key)
        if new or len(known) > 1:
            self._store[_MEMBERS + survivor] = members
        return survivor, new, known[1:]

    # --- undoing ------------------------------------------------------------------------------

    def _mark_shared(self, key: str, at: int, how: str) -> list[Split]:
        """``key`` becomes shared: it leaves its customer and every merge it linked is
        undone."""
        owner = self.lookup(key)
        splits: list[Split] = []
        if owner is not None:
            self._store.pop(_ID + key, None)
            self._store[_MEMBERS + owner] = [k for k in self.members(owner) if k != key]
            records = [r for r in self.history.behind(owner) if r.linked_by == key]
            splits = [s for s in map(self._undo, records) if s is not None]
        self.shared.mark(key, at, how)
        return splits

    def _undo(self, record: MergeRecord) -> Split | None:
        """Give the absorbed customer back the identifiers it had at the merge and that are
        still with whoever holds the survivor now (not those erased, shared or split off since).
        None when there are none left to give: the merge then stands."""
        holder = self.history.live(record.survivor)
        back = [key for key in record.identifiers if self.lookup(key) == holder]
        if not back:
            return None
        self._store[_MEMBERS + holder] = [k for k in self.members(holder) if k not in back]
        for key in back:
            self._store[_ID + key] = record.absorbed
        self._store[_MEMBERS + record.absorbed] = back
        self.history.remove(record)
        return Split(record.absorbed, record.survivor, back)
