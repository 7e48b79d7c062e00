"""Runs one nextbest worker (a Faust worker) until it is stopped."""

from __future__ import annotations

import asyncio
import logging

from streams.admin import ensure_topics
from streams.app import create_pipeline
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)


def run_worker(settings: WorkerSettings | None = None, *, loglevel: str = "warning") -> None:
    import faust

    settings = settings or WorkerSettings()
    asyncio.run(ensure_topics(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())  # asyncio.run() left none for Faust
    pipeline = create_pipeline(settings)
    worker = faust.Worker(pipeline.app, loglevel=loglevel.upper(), quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so it can spin on every record:
    # every aiokafka debug line is then built and thrown away - a third of the worker's CPU.
    worker.spinner = None
    worker.execute_from_commandline()
