"""What the synthetic shop hands out: events, malformed messages and the hidden truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAMILIES: tuple[str, ...] = ("clickstream", "purchase", "support", "review", "identity", "catalog",
                             "fulfilment")


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One well-formed event, ready to encode and publish.

    ``key`` is the Kafka key: the item_id for catalog events, otherwise the identifier the
    producing system knows the customer by (customer_id, else email, phone, loyalty_id, pos_id,
    device_id - the first one set).
    """

    family: str
    key: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    """Raw bytes that a careless producer could put on an input topic; they must dead-letter.

    ``flaw`` is one of ``MALFORMED_FLAWS``.
    """

    family: str
    key: bytes | None
    value: bytes
    flaw: str


@dataclass(frozen=True, slots=True)
class CustomerTruth:
    """A customer's hidden traits: what the engine should discover, never sees directly."""

    customer_id: str
    preferences: Mapping[str, float]  # category -> weight, sums to 1
    price_sensitive: bool
    mean_gap_days: float  # the customer's own rhythm: mean days between purchases
    value_tier: str  # "high" (top 20 %), "mid" or "low"
    will_lapse: bool
    lapse_time_ms: int | None  # from then on no purchases; engagement fades in the 6 weeks before
    timezone: str
    country: str
    identifiers: tuple[str, ...]  # every identifier value (customer_id, email, devices ...)
    inbox_hour: int = 19  # the local hour the customer reads email at


@dataclass(frozen=True, slots=True)
class ShopTruth:
    """The hidden truth of a shop, for scoring the engine (win-back precision, identity)."""

    customers: Mapping[str, CustomerTruth]  # by customer_id ("C00042")
    owner_of: Mapping[str, str]  # any identifier value -> customer_id

    def lapsed_by(self, time_ms: int) -> list[str]:
        """Customer ids whose lapse time is at or before ``time_ms``."""
        return [
            c.customer_id
            for c in self.customers.values()
            if c.lapse_time_ms is not None and c.lapse_time_ms <= time_ms
        ]
