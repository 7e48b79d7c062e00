"""How fulfilment events move an order's shipment: shipped, delayed, delivered.

A shipment keeps the latest status by event time: an event older than the status on file fills
in what is missing (a carrier, a tracking link) but does not turn the status back, and a
delivered shipment stays delivered. The profile keeps the ``SHIPMENTS`` most recently updated.

>>> from nextbest.profile.state import CustomerProfile
>>> p = CustomerProfile("nb-john")
>>> apply_fulfilment(p, {"kind": "shipped", "order_id": "o1", "event_time": 10,
...                      "promised_delivery": 100, "carrier": "DHL"})
>>> apply_fulfilment(p, {"kind": "delayed", "order_id": "o1", "event_time": 20,
...                      "promised_delivery": 100, "expected_delivery": 300,
...                      "delay_reason": "weather"})
>>> x = p.shipment("o1")
>>> x.status, x.carrier, x.expected_delivery, x.delay_ms, x.delays
('delayed', 'DHL', 300, 200, 1)
>>> apply_fulfilment(p, {"kind": "delivered", "order_id": "o1", "event_time": 290})
>>> apply_fulfilment(p, {"kind": "shipped", "order_id": "o1", "event_time": 15})  # late news
>>> p.shipment("o1").status, p.shipment("o1").delivered_at
('delivered', 290)
"""

from __future__ import annotations

from typing import Any

from nextbest.profile.state import SHIPMENTS, CustomerProfile, Shipment

STATUSES = ("shipped", "delayed", "delivered")
DETAILS = ("promised_delivery", "expected_delivery", "delay_reason", "carrier", "tracking_url")
"""Facts an event may carry about its shipment: a newer event's replace what is on file, an
older event's only fill in what is missing."""


def apply_fulfilment(profile: CustomerProfile, event: dict[str, Any]) -> None:
    """Fold one fulfilment event into the order's shipment, in place."""
    kind, now = event["kind"], int(event["event_time"])
    if kind not in STATUSES:
        return
    shipment = profile.shipment(event["order_id"])
    if shipment is None:
        shipment = Shipment(event["order_id"], kind, now)
        profile.shipments.append(shipment)
    # Late news, or news of a parcel already delivered, does not change where it stands.
    newer = now >= shipment.updated_at and (shipment.status != "delivered" or kind == "delivered")
    for name in DETAILS:
        if event.get(name) is not None and (newer or getattr(shipment, name) is None):
            setattr(shipment, name, event[name])
    if shipment.expected_delivery is None:
        shipment.expected_delivery = shipment.promised_delivery  # the promise holds
    shipment.delays += kind == "delayed"
    if not newer:
        return
    shipment.status, shipment.updated_at = kind, now
    if kind == "delivered":
        shipment.delivered_at = now
    profile.shipments.sort(key=lambda x: x.updated_at)
    del profile.shipments[:-SHIPMENTS]


def merge_shipments(survivor: list[Shipment], absorbed: list[Shipment]) -> list[Shipment]:
    """Both customers' shipments, the newer status of an order on both sides kept.

    >>> a, b = Shipment("o1", "shipped", 5), Shipment("o1", "delivered", 9)
    >>> [(x.order_id, x.status) for x in merge_shipments([a], [b, Shipment("o2", "shipped", 1)])]
    [('o2', 'shipped'), ('o1', 'delivered')]
    """
    by_order: dict[str, Shipment] = {}
    for shipment in (*survivor, *absorbed):
        known = by_order.get(shipment.order_id)
        if known is None or shipment.updated_at > known.updated_at:
            by_order[shipment.order_id] = shipment
    return sorted(by_order.values(), key=lambda x: x.updated_at)[-SHIPMENTS:]
