"""Creates nextbest's topics with the right partition counts before the worker starts.

Every topic is created here, so producers and consumers find them with the right partition
count (the customer topic, its changelog and the decision topics are co-partitioned, and the
identity graph has exactly one writer) whatever the broker's auto-create default is - and so a
worker's first subscription never races the topic's creation.
"""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from nextbest.streams import kafka
from nextbest.streams.checkpoints import MAX_CHECKPOINT_BYTES
from nextbest.streams.settings import DECISION_TYPES, FAMILIES, WorkerSettings

logger = logging.getLogger(__name__)

LESSON_RETENTION_MS = 7 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000
ERASABLE = {"cleanup.policy": "compact", "max.compaction.lag.ms": str(DAY_MS),
            "delete.retention.ms": str(DAY_MS)}
"""Compacted topics that hold a customer's identifiers or state: what an erasure overwrote
(or deleted, a tombstone keyed by the identifier) is compacted away within a day, and the
tombstone itself a day later. Kafka's defaults let a record wait for compaction as long as
its segment is active (up to 7 days) and keep tombstones a day."""
STAGE_GROUPS = ("router", "identity", "customer")
"""The stages that consume in a group (``WorkerSettings.group(stage)``)."""


class PartitionsMismatch(Exception):
    """The topics exist with another partition count than ``NEXTBEST_PARTITIONS``."""


def topic_specs(settings: WorkerSettings) -> dict[str, tuple[int, dict[str, str]]]:
    """Topic name -> (partitions, topic configs)."""
    p = settings.partitions
    topics: dict[str, tuple[int, dict[str, str]]] = {}
    for family in FAMILIES:
        topics[settings.input_topic(family)] = (
            p, {"cleanup.policy": "compact"} if family == "catalog" else {}
        )
    for decision_type in DECISION_TYPES:
        topics[settings.decision_topic(decision_type)] = (p, {})
    topics[settings.deadletter_topic] = (p, {})
    for name in (settings.decision_log_topic, settings.outcome_topic,
                 settings.erasure_ack_topic):
        topics[name] = (p, {})
    topics[settings.digest_topic] = (1, {"cleanup.policy": "compact"})
    topics[settings.identity_request_topic] = (1, {})
    topics[settings.identity_reply_topic] = (1, {"retention.ms": str(3600 * 1000)})
    topics[settings.identity_graph_topic] = (p, ERASABLE)
    topics[settings.customer_topic] = (p, {})
    topics[settings.customer_state_topic] = (p, ERASABLE)
    # Lessons are needed until every worker's model checkpoint is past them (30 s); a week
    # lets a worker that was away that long catch up from its last checkpoint.
    topics[settings.lesson_topic] = (p, {"retention.ms": str(LESSON_RETENTION_MS)})
    topics[settings.checkpoint_topic] = (1, {
        **ERASABLE, "max.message.bytes": str(MAX_CHECKPOINT_BYTES)})
    return topics


async def ensure_topics(settings: WorkerSettings) -> list[str]:
    """Create the public topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**kafka.connection(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if settings.customer_topic in existing:
            (described,) = await admin.describe_topics([settings.customer_topic])
            found = len(described["partitions"])
            if found != settings.partitions:
                raise PartitionsMismatch(
                    f"{settings.customer_topic} has {found} partitions but NEXTBEST_PARTITIONS "
                    f"is {settings.partitions}: a customer's partition would change. Set it to "
                    f"{found}, or grow the topics with `nextbest repartition` (workers stopped).")
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1,
                     topic_configs=configs)
            for name, (partitions, configs) in topic_specs(settings).items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
            logger.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()
