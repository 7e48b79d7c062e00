"""The one order events are run in: event time, then family, then event id.

``nextbest replay events`` sorts recorded events by it; a router merges the events of its input
partitions by it (``streams/reorder.py``), so live processing of a backlog and a replay of the
same events take them in the same order.
"""

from __future__ import annotations

from typing import Any

FAMILY_ORDER = ("catalog", "identity", "purchase", "fulfilment", "clickstream", "support",
                "review")
"""How events with the same event time are ordered: reference data and identity first, so an
order placed at the moment an identifier is linked is the linked customer's."""

OrderKey = tuple[int, int, str]


def order_key(family: str, event: dict[str, Any]) -> OrderKey:
    """
    >>> order_key("purchase", {"event_time": 5, "event_id": "b"}) < order_key(
    ...     "clickstream", {"event_time": 5, "event_id": "a"})
    True
    """
    rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    return int(event["event_time"]), rank, str(event["event_id"])
