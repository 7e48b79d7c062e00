"""What a running worker holds, handed to every stage instead of globals.

    events.<family> --router--> nextbest.customer-events (keyed by customer) --customer-->
    decisions.<type> + Redis; rejects -> nextbest.deadletter; identity graph changes through
    nextbest.identity-requests (one writer) -> nextbest.identity-graph (every router's replica)
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from nextbest.codec import Codec, SchemaRegistryClient
from nextbest.engine import Engine
from nextbest.models.suite import ModelSuite
from nextbest.settings import EngineSettings
from nextbest.streams import kafka
from nextbest.streams.metrics import ModelCollector, WorkerMetrics
from nextbest.streams.serving import ProfileServing
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)


@dataclass
class Pipeline:
    settings: WorkerSettings
    codec: Codec
    engine: Engine
    metrics: WorkerMetrics
    registry: CollectorRegistry
    serving: ProfileServing
    producer: AIOKafkaProducer
    checkpointed_events: int = 0
    """The models' event count at the last checkpoint written."""
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    """This worker process: its own lessons come back on the lesson topic and are skipped."""
    ready: bool = False
    """Every stage started (state restored, groups joined) and the worker is not stopping."""

    def customer_partition(self, customer_id: str) -> int:
        return kafka.partition_of(customer_id, self.settings.partitions)


def make_codec(schema_registry_url: str | None) -> Codec:
    if schema_registry_url:
        return Codec(SchemaRegistryClient(schema_registry_url))
    return Codec()


def create_pipeline(
    settings: WorkerSettings | None = None,
    engine_settings: EngineSettings | None = None,
    models: ModelSuite | None = None,
) -> Pipeline:
    """Must be called inside the running event loop (the clients bind to it)."""
    settings = settings or WorkerSettings()
    registry = CollectorRegistry()
    engine = Engine(engine_settings or EngineSettings(), models=models)
    # One pot of the day's incentive budget per customer partition: see IncentiveBudget.
    engine.models.budget.pots = settings.partitions
    engine.models.sharing = True  # every worker's models learn every worker's events
    registry.register(ModelCollector(engine))
    return Pipeline(
        settings=settings,
        codec=make_codec(settings.schema_registry_url),
        engine=engine,
        metrics=WorkerMetrics.create(registry),
        registry=registry,
        serving=ProfileServing.from_url(
            settings.redis_url.get_secret_value(), prefix=settings.app_name
        ),
        producer=kafka.producer(settings),
    )
