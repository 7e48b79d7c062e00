"""Identity: resolve every event's identifiers to one canonical customer and route by it.

This stage reads a single-partition topic: every identifier lookup and link happens in one
place, in order, so two profiles that turn out to be one person merge exactly once. It is cheap
(a few table lookups per event); partitioning it by identifier is the path past one core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph
from streams import envelope
from streams.stages.ingest import deadletter

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)


class StrTable(MutableMapping[str, Any]):
    """A Faust table of bytes seen as JSON values, so the core's graph can use it as a mapping."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        value = self._table.get(key)
        if value is None:
            raise KeyError(key)
        return envelope.unpack(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[key] = envelope.pack(value)

    def __delitem__(self, key: str) -> None:
        del self._table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.keys())

    def __len__(self) -> int:
        return len(self._table)


class Watermark:
    """The highest event time seen across all input (this stage sees every event, in order).

    Each time it enters a new agenda bucket it is broadcast to every customer partition as a
    tick, so a quiet partition's lapsed customers are still found - on event time, which is what
    makes a replay decide exactly as live traffic did.
    """

    MIN_INTERVAL_S = 0.2
    """Broadcast at most this often (simulated time can cross many buckets per second)."""

    def __init__(self, bucket_ms: int) -> None:
        self.bucket_ms = bucket_ms
        self.time = 0
        self.broadcast = 0
        self._last_wall = 0.0

    def advance(self, event_time: int) -> None:
        self.time = max(self.time, event_time)

    def due(self, *, force: bool = False) -> bool:
        """True when the watermark entered a bucket not yet broadcast (and not too soon)."""
        if self.time // self.bucket_ms <= self.broadcast // self.bucket_ms:
            return False
        now = time.monotonic()
        if not force and now - self._last_wall < self.MIN_INTERVAL_S:
            return False
        self._last_wall = now
        self.broadcast = self.time
        return True


async def broadcast_tick(pipeline: Pipeline, now: int) -> None:
    tick = envelope.pack({"k": envelope.TICK, "now": now})
    for partition in range(pipeline.settings.partitions):
        await pipeline.customer_events.send(value=tick, partition=partition)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    graph = IdentityGraph(StrTable(pipeline.tables["identities"]))
    customers = pipeline.customer_events
    watermark = pipeline.watermark

    @app.agent(pipeline.identity_resolution, name="identity")
    async def identity(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                routed = envelope.unpack(message.value)
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
            watermark.advance(int(routed["e"]["event_time"]))
            if watermark.due():
                await broadcast_tick(pipeline, watermark.time)


def _family(message: Any) -> str:
    try:
        return str(envelope.unpack(message.value).get("f", "unknown"))
    except Exception:
        return "unknown"
