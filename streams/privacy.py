"""Erasure: a customer's request to be forgotten, carried out across every store.

The identity writer removes the customer's identifiers from the identity graph and Redis and
sends the request on to the customer's partition; the customer stage removes the profile (a
changelog tombstone), the Redis view and the models' per-customer state, then acknowledges on
``nextbest.erasure-acks``. Logs name only event ids and canonical ids, never identifiers.
"""

from __future__ import annotations

import time
from typing import Any

STORES = ["identity_graph", "redis", "profile_table", "models"]


def erasure_ack_record(request_event_id: str, customer_id: str | None, requested_at: int,
                       identifiers: int) -> dict[str, Any]:
    """An acknowledgement in the shape of ``schemas/erasure_ack.avsc``."""
    return {
        "request_event_id": request_event_id, "customer_id": customer_id,
        "requested_at": requested_at, "erased_at": int(time.time() * 1000),
        "identifiers_removed": identifiers, "stores": STORES if customer_id else [],
    }
