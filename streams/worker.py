"""Runs one nextbest worker until it is stopped (SIGTERM or SIGINT).

A worker runs every stage: the router (input topics), the identity writer (when the group gives
it the request partition), the customer stage (its share of the customer partitions), the
replicas of the identity graph, the catalog and the other workers' lessons, the timed jobs and
the HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable

from aiohttp import web as aioweb

from nextbest.codec import Codec, RegistryUnavailable, SchemaRegistryClient
from nextbest.models.suite import ModelSuite
from nextbest.streams.access import CustomerDataGate
from nextbest.streams.admin import ensure_topics
from nextbest.streams.checkpoints import load_checkpoint
from nextbest.streams.logs import thin_repeated_lines
from nextbest.streams.pipeline import Pipeline, create_pipeline
from nextbest.streams.refill import refill
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.stage import Stage
from nextbest.streams.stages.catalog import CatalogReplica
from nextbest.streams.stages.customer import CustomerStage
from nextbest.streams.stages.identity import GraphReplica, IdentityWriter
from nextbest.streams.stages.lessons import LessonReplica
from nextbest.streams.stages.router import Router
from nextbest.streams.stages.timers import every, timed_jobs, watch_loop_lag
from nextbest.streams.web import application

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 7.0
"""A stop checkpoints what was processed; past this (a broker that is down) the worker exits
anyway - what it did not commit is processed again by the next one, nothing is lost."""
CLOSE_SECONDS = 2.0
"""Then the replicas' clients and the web server get this long to close."""


def run_worker(settings: WorkerSettings | None = None, *, loglevel: str = "warning") -> int:
    logging.getLogger().setLevel(loglevel.upper())
    thin_repeated_lines()
    import uvloop  # the event loop's own overhead is a large share of a worker's CPU per event

    return uvloop.run(serve(settings or WorkerSettings()))


async def serve(settings: WorkerSettings) -> int:
    await ensure_topics(settings)
    models = restore_models(await load_checkpoint(settings))
    pipeline = create_pipeline(settings, models=models)
    pipeline.checkpointed_events = models.progress if models else 0
    await warm_registry(pipeline.codec)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    await pipeline.producer.start()
    replica, catalog = GraphReplica(pipeline), CatalogReplica(pipeline)
    lessons = LessonReplica(pipeline)
    await replica.start()
    await catalog.start()
    await lessons.start()
    writer, customers = IdentityWriter(pipeline), CustomerStage(pipeline)
    customers.lessons = lessons
    customers.graph = replica
    router = Router(pipeline, replica)
    router.shares_partitions = customers.hears_other_routers
    stages = [writer, customers, router]
    gate = CustomerDataGate.for_settings(settings)
    gate.announce()
    runner = aioweb.AppRunner(application(pipeline, gate), access_log=None)
    await runner.setup()
    await aioweb.TCPSite(runner, settings.web_host, settings.web_port).start()
    for stage in stages:
        await stage.start()
    # What is loaded by now (models, replicas) lives as long as the worker: keep the collector
    # from walking it, and collect young objects less often (pauses show as latency).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    pipeline.ready = True
    loops = [asyncio.create_task(coro, name=name) for name, coro in (
        ("identity-writer", writer.run()), ("customer", customers.run()),
        ("router", router.run()))]
    helpers = [asyncio.create_task(coro, name=name) for name, coro in (
        ("identity-replica", replica.run()), ("catalog-replica", catalog.run()),
        ("lesson-replica", lessons.run()),
        ("identity-answers", router.answers()), ("loop-lag", watch_loop_lag(pipeline)),
        *((f"timer-{job.__name__}", every(seconds, job))
          for seconds, job in timed_jobs(pipeline, stages, lessons,
                                         lambda: refill(pipeline, customers, replica))),
    )]
    stop = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([stop, *loops, *helpers], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t is not stop and not t.cancelled() and t.exception()]
    for task in failed:
        logger.error("worker task %s failed: %r", task.get_name(), task.exception())
    try:
        await asyncio.wait_for(shutdown(pipeline, stages, loops, helpers), SHUTDOWN_SECONDS)
    except (TimeoutError, Exception) as exc:
        logger.error("worker stopped without a clean checkpoint: %r", exc)
    for task in (*loops, *helpers):
        task.cancel()
    for closing in (replica.stop(), catalog.stop(), lessons.stop(), runner.cleanup()):
        await close_quietly(closing)
    return 1 if failed else 0


async def warm_registry(codec: Codec) -> None:
    """With an external schema registry: fetch the writer id of every family before anything
    is routed, waiting (with backoff) while the registry is unreachable. Encoding a decision
    then never needs the registry, so an outage later holds up only messages with schema ids
    not seen yet (the router waits on those), and never dead-letters one."""
    registry = codec.registry
    if not isinstance(registry, SchemaRegistryClient):
        return
    delay = 0.5
    while True:
        try:
            ids = await asyncio.to_thread(registry.warm)
        except RegistryUnavailable as exc:
            logger.warning("schema registry unavailable at start, retrying in %.1fs: %s",
                           delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        logger.info("schema registry: writer ids %s", ids)
        return


async def close_quietly(closing: Awaitable[None]) -> None:
    """Close a client on the way out, within ``CLOSE_SECONDS``: one that cannot reach the
    broker gives up (its tasks cancelled mid-retry) instead of holding the exit."""
    try:
        await asyncio.wait_for(closing, CLOSE_SECONDS)
    except (asyncio.CancelledError, Exception) as exc:
        logger.warning("a client did not close cleanly: %r", exc)


async def shutdown(pipeline: Pipeline, stages: list[Stage], loops: list[asyncio.Task[None]],
                   helpers: list[asyncio.Task[None]]) -> None:
    """Let every stage finish the batch in hand, checkpoint it and leave its group."""
    pipeline.ready = False
    for stage in stages:
        stage.request_stop()
    await asyncio.gather(*loops, return_exceptions=True)
    for task in helpers:
        task.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    for stage in stages:
        try:
            await stage.stop()
        except Exception as exc:
            logger.error("%s did not checkpoint on stop: %r", stage.name, exc)
    with contextlib.suppress(Exception):
        await pipeline.serving.flush()
    await pipeline.producer.stop()


def restore_models(checkpoint: bytes | None) -> ModelSuite | None:
    """The models from the last checkpoint; None (fresh models) when there is none or it is
    unreadable - a worker must start either way, and says which."""
    if checkpoint is None:
        logger.info("no model checkpoint yet: models start fresh")
        return None
    try:
        models = ModelSuite.restore(checkpoint)
    except Exception as exc:
        logger.error("model checkpoint unreadable, models start fresh: %s", exc)
        return None
    logger.warning("models restored from checkpoint: %d events learnt", models.events)
    return models
