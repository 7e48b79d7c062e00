"""Erasure: a customer's request to be forgotten, carried out across every store.

The identity stage removes the customer's identifiers from the identity graph and Redis and
forwards the request to the customer's partition; the customer stage removes the profile (a
changelog tombstone), the Redis view and the models' per-customer state, then acknowledges on
``nextbest.erasure-acks``. Logs name only event ids and canonical ids, never identifiers.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from streams import envelope

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)
STORES = ["identity_graph", "redis", "profile_table", "models"]


async def forward_erasure(
    pipeline: Pipeline, event: dict[str, Any], customer_id: str | None, identifiers: int
) -> None:
    """From the identity stage: on to the customer's partition, or acknowledge at once when no
    customer matched (nothing to erase)."""
    requested_at = int(event["event_time"])
    if customer_id is None:
        await send_erasure_ack(pipeline, event["event_id"], None, requested_at, 0)
        return
    await pipeline.customer_events.send(key=customer_id.encode(), value=envelope.pack({
        "k": envelope.ERASE, "cid": customer_id, "request": event["event_id"],
        "requested_at": requested_at, "identifiers": identifiers}))


async def send_erasure_ack(
    pipeline: Pipeline, request_event_id: str, customer_id: str | None, requested_at: int,
    identifiers: int,
) -> None:
    record = {
        "request_event_id": request_event_id, "customer_id": customer_id,
        "requested_at": requested_at, "erased_at": int(time.time() * 1000),
        "identifiers_removed": identifiers, "stores": STORES if customer_id else [],
    }
    key = (customer_id or request_event_id).encode()
    await pipeline.erasure_acks.send(key=key, value=pipeline.codec.encode("erasure_ack", record))
    pipeline.metrics.erasures.inc()
    logger.info("erasure %s carried out for %s", request_event_id, customer_id or "no customer")
