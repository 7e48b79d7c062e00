"""Timed work of a worker: the write-behind flush to Redis, model checkpoints, weekly sentiment
digests and consumer lag."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nextbest.streams.checkpoints import CheckpointWriter
from nextbest.streams.stage import Stage

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline
    from nextbest.streams.stages.lessons import LessonReplica

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


MAX_BACKOFF_SECONDS = 30.0


async def every(seconds: float, work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` every ``seconds`` until cancelled. A failure is retried after a wait that
    doubles with every failure in a row (up to ``MAX_BACKOFF_SECONDS``), with one warning per
    retry - a dependency that is away (Redis) fills neither the log nor the CPU - and one line
    when it works again."""
    name = getattr(work, "__name__", repr(work))
    wait, failures = seconds, 0
    while True:
        await asyncio.sleep(wait)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            wait = min(max(wait, seconds) * 2, max(MAX_BACKOFF_SECONDS, seconds))
            logger.warning("%s failed (%d in a row), retrying in %.1fs: %s", name, failures, wait,
                           exc)
            continue
        if failures:
            logger.warning("%s works again after %d failures", name, failures)
        wait, failures = seconds, 0


async def watch_loop_lag(pipeline: Pipeline, interval: float = 0.01) -> None:
    """Observe how late a short timer fires: the longest stretches the loop was held."""
    loop, lag = asyncio.get_running_loop(), pipeline.metrics.loop_lag
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        lag.observe(max(0.0, loop.time() - started - interval))


Job = tuple[float, Callable[[], Awaitable[None]]]


def timed_jobs(pipeline: Pipeline, stages: list[Stage],
               lessons: LessonReplica | None = None,
               refill: Callable[[], int] | None = None) -> list[Job]:
    """The timed jobs: (interval in seconds, job), each to run with :func:`every`.
    ``refill``: queues the owned views again once a flush found that Redis lost them."""
    settings = pipeline.settings
    writer = CheckpointWriter(settings)

    async def redis_flush() -> None:
        metrics, pending = pipeline.metrics, pipeline.serving.pending
        metrics.redis_pending.set(pending)
        if not pending:
            return
        started = time.perf_counter()
        try:
            written = await pipeline.serving.flush()
        except Exception:
            metrics.redis_flush_failures.inc()
            raise
        metrics.redis_flush_seconds.observe(time.perf_counter() - started)
        metrics.profiles_written.inc(written)
        if pipeline.serving.forgotten and refill is not None:
            refill()  # written by the next flush

    async def model_checkpoint() -> None:
        models = pipeline.engine.models
        learnt = models.progress
        if learnt == pipeline.checkpointed_events:
            return  # nothing learnt or erased since the last checkpoint
        if lessons is not None:
            await lessons.mark_owned_ends()
        events, data = learnt, models.checkpoint()
        await writer.write(data)
        pipeline.checkpointed_events = events
        logger.info("model checkpoint written (%d bytes, %d events)", len(data), events)

    async def sentiment_digest() -> None:
        # Weeks of event time that have ended: publish their digest once. Every worker's digest
        # holds every worker's texts (shared learning): the owner of customer partition 0
        # publishes it for the cluster.
        if not any(tp.topic == settings.customer_topic and tp.partition == 0
                   for stage in stages for tp in stage.assignment):
            return
        models = pipeline.engine.models
        for week in models.digest.due(models.watermark):
            record = digest_record(models.digest.digest(week))
            await pipeline.producer.send_and_wait(
                settings.digest_topic, key=week.encode(),
                value=pipeline.codec.encode("sentiment_digest", record))
            models.digest.mark_published(week)

    exported: set[tuple[str, str]] = set()

    async def consumer_lag() -> None:
        reported: set[tuple[str, str]] = set()
        for stage in stages:
            consumer = stage.consumer
            for tp in consumer.assignment():
                try:
                    highwater = consumer.highwater(tp)
                    position = await consumer.position(tp)
                except Exception:  # partition moving in a rebalance
                    continue
                if highwater is None or position is None:
                    continue
                labels = (tp.topic, str(tp.partition))
                pipeline.metrics.consumer_lag.labels(*labels).set(max(0, highwater - position))
                reported.add(labels)
        for labels in exported - reported:  # moved to another worker: not ours to report
            pipeline.metrics.consumer_lag.remove(*labels)
        exported.clear()
        exported.update(reported)

    return [
        (settings.redis_flush_interval_seconds, redis_flush),
        (settings.model_checkpoint_seconds, model_checkpoint),
        (settings.digest_check_seconds, sentiment_digest),
        (1.0, consumer_lag),
    ]
