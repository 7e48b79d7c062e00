"""Timers: wall-clock ticks to every customer partition, and the write-behind flush to Redis."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from streams import envelope
from streams.checkpoints import CheckpointWriter
from streams.clock import broadcast_tick

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)


DIGEST_FIELDS = ("week", "start_ms", "end_ms", "texts", "negative_texts", "positive_texts")


def digest_record(digest: dict[str, Any]) -> dict[str, Any]:
    """A digest in the shape of ``schemas/sentiment_digest.avsc``."""
    def themes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"theme": t["theme"], "count": t["count"], "share": float(t["share"]),
                 "examples": [{"text": e["text"], "source": e["source"],
                               "negative": float(e["negative"])} for e in t["examples"]]}
                for t in items]

    return {**{k: digest[k] for k in DIGEST_FIELDS},
            "negative": themes(digest["negative"]), "positive": themes(digest["positive"])}


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    settings = pipeline.settings

    if settings.wall_clock_ticks:

        @app.timer(interval=settings.tick_interval_seconds, on_leader=True, name="clock")
        async def clock() -> None:
            # A tick travels through the partition like an event, so sweeps happen in the
            # stream's own context (changelog writes go to the right partition) and in order.
            now = int(time.time() * 1000)
            topic = pipeline.customer_events
            for partition in range(settings.partitions):
                await topic.send(
                    value=envelope.pack({"k": envelope.TICK, "now": now}), partition=partition
                )

    @app.timer(interval=settings.tick_interval_seconds, name="watermark")
    async def watermark() -> None:
        # Event-time ticks the identity stage held back to avoid flooding: send the last one.
        if pipeline.watermark.due(force=True):
            await broadcast_tick(pipeline, pipeline.watermark.time)

    @app.timer(interval=settings.redis_flush_interval_seconds, name="redis_flush")
    async def redis_flush() -> None:
        try:
            written = await pipeline.serving.flush()
        except Exception as exc:
            logger.warning("redis flush failed, will retry: %s", exc)
            return
        pipeline.metrics.profiles_written.inc(written)

    writer = CheckpointWriter(settings)

    @app.timer(interval=settings.model_checkpoint_seconds, name="model_checkpoint")
    async def model_checkpoint() -> None:
        models = pipeline.engine.models
        if models.events == pipeline.checkpointed_events:
            return  # nothing learnt since the last checkpoint
        events, data = models.events, models.checkpoint()
        try:
            await writer.write(data)
        except Exception as exc:
            logger.warning("model checkpoint failed, will retry: %s", exc)
            return
        pipeline.checkpointed_events = events
        logger.info("model checkpoint written (%d bytes, %d events)", len(data), events)

    @app.timer(interval=settings.digest_check_seconds, name="sentiment_digest")
    async def sentiment_digest() -> None:
        # Weeks of event time that have ended: publish their digest once.
        digest = pipeline.engine.models.digest
        for week in digest.due(pipeline.engine.models.watermark):
            record = digest_record(digest.digest(week))
            try:
                await pipeline.digests.send(
                    key=week.encode(), value=pipeline.codec.encode("sentiment_digest", record))
            except Exception as exc:
                logger.warning("sentiment digest %s not published, will retry: %s", week, exc)
                return
            digest.mark_published(week)

    exported: set[tuple[str, str]] = set()

    @app.timer(interval=5.0, name="consumer_lag")
    async def consumer_lag() -> None:
        consumer = app.consumer
        reported: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            try:
                highwater = consumer.highwater(tp)
                position = await consumer.position(tp)
            except Exception:  # partition moving in a rebalance
                continue
            if highwater is not None and position is not None:
                labels = (tp.topic, str(tp.partition))
                pipeline.metrics.consumer_lag.labels(*labels).set(max(0, highwater - position))
                reported.add(labels)
        for labels in exported - reported:  # moved to another worker: not ours to report
            pipeline.metrics.consumer_lag.remove(*labels)
        exported.clear()
        exported.update(reported)
