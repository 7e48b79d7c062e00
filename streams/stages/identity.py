"""Identity: resolve every event's identifiers to one canonical customer and route by it.

This stage reads a single-partition topic: every lookup, link and merge happens in one place, in
order, so two profiles that turn out to be one person merge exactly once. It is cheap (a few
table lookups per event); partitioning it by identifier is the path past one core.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph
from nextbest.identity.graph import identifier_keys
from streams import envelope
from streams.clock import broadcast_tick
from streams.privacy import forward_erasure
from streams.stages.ingest import deadletter
from streams.tables import JsonTable

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    graph = IdentityGraph(JsonTable(pipeline.tables["identities"]))
    customers = pipeline.customer_events

    async def erase(event: dict[str, Any]) -> None:
        keys = identifier_keys(event.get("customer"))
        customer_id = next((c for c in map(graph.lookup, keys) if c is not None), None)
        removed = graph.forget(customer_id) if customer_id is not None else []
        for key in removed:
            pipeline.serving.unlink(key)
        await forward_erasure(pipeline, event, customer_id, len(removed))

    @app.agent(pipeline.identity_resolution, name="identity")
    async def identity(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                routed = envelope.unpack(message.value)
                if _is_erasure(routed):
                    await erase(routed["e"])
                    continue
                resolution = graph.resolve(routed["e"].get("customer"))
            except UnprocessableEvent as exc:
                await deadletter(pipeline, message, family=_family(message), reason=exc.reason,
                                 detail=str(exc), stage="identity")
                continue
            except Exception as exc:
                logger.exception("identity failed on %s[%s]@%s", message.topic,
                                 message.partition, message.offset)
                await deadletter(pipeline, message, family=_family(message),
                                 reason="internal_error", detail=repr(exc), stage="identity")
                continue
            survivor = resolution.customer_id
            for absorbed in resolution.merged:
                pipeline.metrics.identity_merges.inc()
                await customers.send(
                    key=absorbed.encode(),
                    value=envelope.pack({"k": envelope.MERGE, "absorbed": absorbed,
                                         "survivor": survivor}),
                )
            if resolution.new_identifiers or resolution.merged:
                for key in graph.members(survivor):
                    pipeline.serving.link(key, survivor)
            routed["cid"] = survivor
            await customers.send(key=survivor.encode(), value=envelope.pack(routed))
            pipeline.watermark.advance(int(routed["e"]["event_time"]))
            if pipeline.watermark.due():
                await broadcast_tick(pipeline, pipeline.watermark.time)


def _is_erasure(routed: dict[str, Any]) -> bool:
    return routed.get("f") == "identity" and routed["e"].get("kind") == "erasure_requested"


def _family(message: Any) -> str:
    try:
        return str(envelope.unpack(message.value).get("f", "unknown"))
    except Exception:
        return "unknown"
