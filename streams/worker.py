"""Runs one nextbest worker (a Faust worker) until it is stopped."""

from __future__ import annotations

import asyncio
import logging

from nextbest.models.suite import ModelSuite
from streams.admin import ensure_topics
from streams.app import create_pipeline
from streams.checkpoints import load_checkpoint
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)


def run_worker(settings: WorkerSettings | None = None, *, loglevel: str = "warning") -> None:
    import faust

    settings = settings or WorkerSettings()
    asyncio.run(ensure_topics(settings))
    models = restore_models(asyncio.run(load_checkpoint(settings)))
    asyncio.set_event_loop(asyncio.new_event_loop())  # asyncio.run() left none for Faust
    pipeline = create_pipeline(settings, models=models)
    pipeline.checkpointed_events = models.events if models else 0
    worker = faust.Worker(pipeline.app, loglevel=loglevel.upper(), quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so it can spin on every record:
    # every aiokafka debug line is then built and thrown away - a third of the worker's CPU.
    worker.spinner = None
    worker.execute_from_commandline()


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
