"""The Faust application: topics, tables and the three stages wired together.

    events.<family> --ingest--> identity-resolution (1 partition) --identity--> customer-events
    (keyed by canonical customer) --customer--> decisions.<type> + Redis; rejects -> deadletter
    every verdict -> nextbest.decision-log; closed attribution windows -> nextbest.outcomes;
    erasures -> nextbest.erasure-acks; weekly sentiment digests -> nextbest.sentiment-digest
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import faust
from faust.types import TableT
from prometheus_client import CollectorRegistry

from nextbest.codec import Codec, SchemaRegistryClient
from nextbest.engine import Engine
from nextbest.models.suite import ModelSuite
from nextbest.settings import EngineSettings
from streams.clock import Watermark
from streams.metrics import ModelCollector, WorkerMetrics
from streams.recovery_order import repair_rebalance
from streams.serving import ProfileServing
from streams.settings import DECISION_TYPES, FAMILIES, WorkerSettings
from streams.tuning import bound_fetch_wait

logger = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """Everything a running worker holds; stages receive it instead of reaching for globals."""

    settings: WorkerSettings
    app: faust.App
    codec: Codec
    engine: Engine
    metrics: WorkerMetrics
    registry: CollectorRegistry
    serving: ProfileServing
    inputs: dict[str, faust.TopicT]
    """Input topic per event family."""
    decisions: dict[str, faust.TopicT]
    """Output topic per decision type."""
    deadletter: faust.TopicT
    decision_log: faust.TopicT
    outcomes: faust.TopicT
    erasure_acks: faust.TopicT
    digests: faust.TopicT
    identity_resolution: faust.TopicT
    customer_events: faust.TopicT
    watermark: Watermark
    checkpointed_events: int = 0
    """The models' event count at the last checkpoint written."""
    tables: dict[str, TableT] = field(default_factory=dict)


def raw_topic(
    app: faust.App, name: str, *, partitions: int, compacted: bool = False
) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        compacting=compacted,
        internal=True,
    )


def raw_table(app: faust.App, name: str, *, partitions: int) -> TableT:
    # bytes values use the raw codec: we serialise with orjson ourselves.
    return app.Table(
        name,
        key_type=str,
        value_type=bytes,
        partitions=partitions,
        default=None,
    )


def make_codec(schema_registry_url: str | None) -> Codec:
    if schema_registry_url:
        return Codec(SchemaRegistryClient(schema_registry_url))
    return Codec()


def create_pipeline(
    settings: WorkerSettings | None = None,
    engine_settings: EngineSettings | None = None,
    models: ModelSuite | None = None,
) -> Pipeline:
    from streams.stages import customer, identity, ingest, timers

    settings = settings or WorkerSettings()
    bound_fetch_wait(settings.fetch_max_wait_ms)
    repair_rebalance()
    app = faust.App(
        settings.faust_app_id,
        broker=f"kafka://{settings.kafka_broker}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        consumer_group_instance_id=settings.worker_id,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        producer_linger=settings.producer_linger_ms / 1000,
        table_cleanup_interval=3600.0,
    )
    registry = CollectorRegistry()
    engine = Engine(engine_settings or EngineSettings(), models=models)
    registry.register(ModelCollector(engine))
    p = settings.partitions
    pipeline = Pipeline(
        settings=settings,
        app=app,
        codec=make_codec(settings.schema_registry_url),
        engine=engine,
        metrics=WorkerMetrics.create(registry),
        registry=registry,
        serving=ProfileServing.from_url(
            settings.redis_url.get_secret_value(), prefix=settings.faust_app_id
        ),
        inputs={
            family: raw_topic(
                app, settings.input_topic(family), partitions=p, compacted=family == "catalog"
            )
            for family in FAMILIES
        },
        decisions={
            decision_type: raw_topic(app, settings.decision_topic(decision_type), partitions=p)
            for decision_type in DECISION_TYPES
        },
        deadletter=raw_topic(app, settings.deadletter_topic, partitions=p),
        decision_log=raw_topic(app, settings.decision_log_topic, partitions=p),
        outcomes=raw_topic(app, settings.outcome_topic, partitions=p),
        erasure_acks=raw_topic(app, settings.erasure_ack_topic, partitions=p),
        digests=raw_topic(app, settings.digest_topic, partitions=1, compacted=True),
        identity_resolution=raw_topic(app, settings.identity_topic, partitions=1),
        customer_events=raw_topic(app, settings.customer_topic, partitions=p),
        watermark=Watermark(engine.settings.agenda_bucket_ms),
    )
    for name, partitions in (("catalog", p), ("identities", 1), ("profiles", p), ("agenda", p)):
        pipeline.tables[name] = raw_table(app, name, partitions=partitions)

    ingest.register(pipeline)
    identity.register(pipeline)
    customer.register(pipeline)
    timers.register(pipeline)
    from streams import web

    web.register(pipeline)
    return pipeline
