"""Creates nextbest's public topics with the configured partitions before the worker starts.

Faust creates its own internal topics (identity, customer events, changelogs); input, decision
and dead-letter topics are created here so producers and consumers find them with the right
partition count (co-partitioning needs it) whatever the broker's auto-create default is.
"""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import DECISION_TYPES, FAMILIES, WorkerSettings

logger = logging.getLogger(__name__)


def public_topics(settings: WorkerSettings) -> dict[str, dict[str, str]]:
    """Topic name -> topic configs."""
    topics: dict[str, dict[str, str]] = {}
    for family in FAMILIES:
        configs = {"cleanup.policy": "compact"} if family == "catalog" else {}
        topics[settings.input_topic(family)] = configs
    for decision_type in DECISION_TYPES:
        topics[settings.decision_topic(decision_type)] = {}
    topics[settings.deadletter_topic] = {}
    return topics


async def ensure_topics(settings: WorkerSettings) -> list[str]:
    """Create the public topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_broker)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=settings.partitions, replication_factor=1,
                     topic_configs=configs)
            for name, configs in public_topics(settings).items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
            logger.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()
