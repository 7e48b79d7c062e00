"""Ingest: decode and validate every input message; reject to the dead-letter topic with the reason.

Nothing is dropped: a message is either forwarded to identity resolution (events), stored in the
catalog table (catalog), or dead-lettered with its original bytes and headers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from nextbest.codec import CodecError, DecodedEvent, RegistryUnavailable
from streams import envelope
from streams.deadletter import deadletter_headers

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)


async def deadletter(
    pipeline: Pipeline, message: Any, *, family: str, reason: str, detail: str, stage: str
) -> None:
    """Send a message to the dead-letter topic, unchanged, with why and where in its headers."""
    headers = deadletter_headers(
        original=list(message.headers or ()),
        reason=reason,
        detail=detail,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        stage=stage,
    )
    await pipeline.deadletter.send(key=message.key, value=message.value, headers=headers)
    pipeline.metrics.deadletters.labels(family, reason).inc()
    logger.warning(
        "dead-lettered %s[%s]@%s at %s: %s", message.topic, message.partition, message.offset,
        stage, reason,
    )


async def decode_patiently(pipeline: Pipeline, value: bytes, family: str) -> DecodedEvent:
    """Decode; while an external schema registry is unreachable, wait and retry the same message
    (an outage is not the message's fault, so it must not be dead-lettered)."""
    delay = 0.5
    while True:
        try:
            return pipeline.codec.decode(value, family_hint=family)
        except RegistryUnavailable as exc:
            logger.warning("schema registry unavailable, retrying in %.1fs: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    family_of = {pipeline.settings.input_topic(family): family for family in _EVENT_FAMILIES}
    sources = app.topic(*family_of, key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")

    @app.agent(sources, name="ingest")
    async def ingest(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            family = family_of.get(message.topic, "unknown")
            try:
                decoded = await decode_patiently(pipeline, message.value, family)
            except CodecError as exc:
                await deadletter(pipeline, message, family=family, reason=exc.reason,
                                 detail=str(exc), stage="ingest")
                continue
            except Exception as exc:  # never let one message stop the stream
                logger.exception("ingest failed on %s[%s]@%s", message.topic, message.partition,
                                 message.offset)
                await deadletter(pipeline, message, family=family, reason="internal_error",
                                 detail=repr(exc), stage="ingest")
                continue
            pipeline.metrics.events_in.labels(family).inc()
            routed = {"k": envelope.EVENT, "f": decoded.family, "e": decoded.event,
                      "t0": _timestamp_ms(message)}
            await pipeline.identity_resolution.send(value=envelope.pack(routed))

    catalog_table = pipeline.tables["catalog"]

    @app.agent(pipeline.inputs["catalog"], name="catalog")
    async def catalog(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                decoded = await decode_patiently(pipeline, message.value, "catalog")
            except CodecError as exc:
                await deadletter(pipeline, message, family="catalog", reason=exc.reason,
                                 detail=str(exc), stage="ingest")
                continue
            try:
                item = decoded.event
                current = catalog_table.get(item["item_id"])
                merged = orjson.loads(current) if current else {}
                merged.update({k: v for k, v in item.items() if v is not None and v != []})
                catalog_table[item["item_id"]] = orjson.dumps(merged)
                pipeline.engine.models.update_catalog(merged)
            except Exception as exc:  # never let one item stop the catalog stream
                logger.exception("catalog update failed on %s[%s]@%s", message.topic,
                                 message.partition, message.offset)
                await deadletter(pipeline, message, family="catalog", reason="internal_error",
                                 detail=repr(exc), stage="ingest")
                continue
            pipeline.metrics.events_in.labels("catalog").inc()


_EVENT_FAMILIES = ("clickstream", "purchase", "support", "review", "identity")


def _timestamp_ms(message: Any) -> int:
    # Faust gives the Kafka timestamp in seconds as a float.
    return int(message.timestamp * 1000)
