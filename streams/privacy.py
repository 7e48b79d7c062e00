"""Erasure: a customer's request to be forgotten, carried out across every store.

The identity writer removes the customer's identifiers from the identity graph and Redis and
sends the request on to the customer's partition; the customer stage removes the profile (a
changelog tombstone), the Redis view, the tombstones of the customers merged into them (on
their own partitions) and what the models hold of them under any of those ids, then
acknowledges on ``nextbest.erasure-acks`` with the stores it actually removed something from.
Logs name only event ids and canonical ids, never identifiers.
"""

from __future__ import annotations

import time
from typing import Any

from nextbest.driver import Erased


def erased_stores(identifiers: int, erased: Erased | None, tombstones: int) -> list[str]:
    """What an erasure actually removed something from: ``identity_graph`` (identifiers),
    ``profile_table`` and ``redis`` (the profile and its served view), ``merged_ids`` (the
    tombstones of customers merged into this one), and ``models.<part>`` for each part of the
    models that held something of them (``recommender``: a factorisation vector;
    ``churn_snapshots``: snapshots waiting for their label; ``digest_examples``: their words
    among the sentiment digest's examples)."""
    stores = ["identity_graph"] if identifiers else []
    if erased is not None:
        if erased.profile:
            stores += ["profile_table", "redis"]
        if tombstones:
            stores.append("merged_ids")
        stores += [f"models.{part}" for part, held in erased.models.items() if held]
    return stores


def erasure_ack_record(request_event_id: str, customer_id: str | None, requested_at: int,
                       identifiers: int, stores: list[str] | None = None) -> dict[str, Any]:
    """An acknowledgement in the shape of ``schemas/erasure_ack.avsc``."""
    return {
        "request_event_id": request_event_id, "customer_id": customer_id,
        "requested_at": requested_at, "erased_at": int(time.time() * 1000),
        "identifiers_removed": identifiers, "stores": stores or [],
    }
