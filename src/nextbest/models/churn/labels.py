"""Delayed labels: feature snapshots waiting for their outcome.

A snapshot taken at time ``t`` is *retained* as soon as the customer buys in
``(t, t + horizon]`` and *lapsed* once the event-time watermark passes
``t + horizon`` without a purchase. Snapshots stay pending until the horizon
ends so the purchases (and revenue) inside it can be counted for the value
model. Memory is bounded: at most ``per_customer`` pending snapshots per
customer, spaced at least ``horizon / per_customer`` apart, and at most
``max_pending`` overall; a snapshot over either bound is not taken. Nothing is
evicted: evicting the oldest would keep a customer who is snapshotted often from
ever holding one long enough to lapse, biasing the labels towards "retained".
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass


@dataclass(slots=True)
class Snapshot:
    """Features of one customer at one time, and what has happened since."""

    taken_at: int
    features: array[float]  # float64 values in ``FEATURES`` order
    risk: float  # the lapse probability predicted when the snapshot was taken
    expected: float  # the purchases in the horizon predicted when it was taken
    warm: bool = True  # the models had learnt past their warm-up when it was taken
    purchases: int = 0
    early_purchases: int = 0  # purchases in the first half of the horizon
    revenue: float = 0.0
    retained: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """A snapshot whose label became known.

    ``final`` is False for a retained label known at the purchase (the snapshot stays
    pending so later purchases are counted) and True once the horizon has passed.
    """

    customer_id: str
    snapshot: Snapshot
    lapsed: bool
    final: bool


class DelayedLabels:
    """Pending snapshots per customer, resolved by purchases and by the watermark."""

    def __init__(
        self, horizon_ms: int, *, per_customer: int = 4, max_pending: int = 250_000
    ) -> None:
        if horizon_ms <= 0 or per_customer <= 0 or max_pending <= 0:
            raise ValueError("horizon_ms, per_customer and max_pending must be positive")
        self.horizon_ms = horizon_ms
        self.per_customer = per_customer
        self.max_pending = max_pending
        self.min_spacing_ms = horizon_ms // per_customer
        self._pending: dict[str, list[Snapshot]] = {}
        self._expiry: list[tuple[int, str]] = []  # (expires_at, customer_id), lazily cleaned
        self._count = 0
        self.watermark = 0
        self.skipped = 0

    def __len__(self) -> int:
        return self._count

    def pending(self, customer_id: str) -> list[Snapshot]:
        """The customer's pending snapshots, oldest first (a copy)."""
        return list(self._pending.get(customer_id, ()))

    def accepts(self, customer_id: str, now_ms: int) -> bool:
        """Whether a snapshot taken at ``now_ms`` would be kept."""
        if now_ms + self.horizon_ms <= self.watermark or self._count >= self.max_pending:
            return False
        snaps = self._pending.get(customer_id)
        if not snaps:
            return True
        return len(snaps) < self.per_customer and now_ms - snaps[-1].taken_at >= self.min_spacing_ms

    def add(self, customer_id: str, snapshot: Snapshot) -> bool:
        """Keep ``snapshot`` until its label is final; False if a bound refused it."""
        if not self.accepts(customer_id, snapshot.taken_at):
            self.skipped += 1
            return False
        self._pending.setdefault(customer_id, []).append(snapshot)
        self._count += 1
        heapq.heappush(self._expiry, (snapshot.taken_at + self.horizon_ms, customer_id))
        if len(self._expiry) > 2 * self.max_pending + 1024:
            self._compact()
        return True

    def purchase(self, customer_id: str, time_ms: int, amount: float = 0.0) -> list[Outcome]:
        """Count a purchase; returns the snapshots it turned *retained* for the first time."""
        out: list[Outcome] = []
        for snap in self._pending.get(customer_id, ()):
            if not snap.taken_at < time_ms <= snap.taken_at + self.horizon_ms:
                continue
            snap.purchases += 1
            snap.revenue += amount
            if time_ms <= snap.taken_at + self.horizon_ms // 2:
                snap.early_purchases += 1
            if not snap.retained:
                snap.retained = True
                out.append(Outcome(customer_id, snap, lapsed=False, final=False))
        return out

    def advance(self, now_ms: int) -> list[Outcome]:
        """Move the watermark to ``now_ms``; returns every snapshot whose horizon has passed."""
        self.watermark = max(self.watermark, now_ms)
        out: list[Outcome] = []
        expiry = self._expiry
        while expiry and expiry[0][0] <= self.watermark:
            expires_at, customer_id = heapq.heappop(expiry)
            snaps = self._pending.get(customer_id)
            while snaps and snaps[0].taken_at + self.horizon_ms <= expires_at:
                snap = snaps.pop(0)
                self._count -= 1
                out.append(Outcome(customer_id, snap, lapsed=not snap.retained, final=True))
            if snaps is not None and not snaps:
                del self._pending[customer_id]
        return out

    def forget(self, customer_id: str) -> int:
        """Drop the customer's pending snapshots unlabelled; returns how many."""
        snaps = self._pending.pop(customer_id, [])
        self._count -= len(snaps)
        if snaps:  # the expiry heap names them too: rebuilt without them
            self._compact()
        return len(snaps)

    def _compact(self) -> None:
        live = {
            (snap.taken_at + self.horizon_ms, cid)
            for cid, snaps in self._pending.items()
            for snap in snaps
        }
        self._expiry = list(live)
        heapq.heapify(self._expiry)
