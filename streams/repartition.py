"""More customer partitions for a running system: ``nextbest repartition --partitions N``.

A customer's partition is ``partition_of(customer_id, NEXTBEST_PARTITIONS)``, and so is where
their profile lives in ``nextbest.customer-state``. More partitions (for more workers than
partitions today) move most customers, so the partition count cannot just be raised on the
topics. With every worker stopped and the customer stage drained, this:

1. checks that no worker is in any of the app's consumer groups and that every record of
   ``nextbest.customer-events`` was consumed (else it changes nothing and says why);
2. raises the partition count of every topic created with ``NEXTBEST_PARTITIONS`` partitions;
3. moves each profile in ``nextbest.customer-state`` to its new partition (written there,
   deleted from the old one) and splits each day's incentive spend evenly over the new pots.

Then start the workers with ``NEXTBEST_PARTITIONS=N``; a worker started with a count that
differs from the topics' refuses to run (:func:`nextbest.streams.admin.ensure_topics`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from nextbest.partitions import partition_of
from nextbest.streams import kafka
from nextbest.streams.admin import STAGE_GROUPS, topic_specs
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.stages.customer import BUDGET_KEY
from nextbest.streams.state import PARTITION_KEY_PREFIX

logger = logging.getLogger(__name__)


class RepartitionRefused(Exception):
    """The system is not in a state where partitions can be added (nothing was changed)."""


@dataclass(frozen=True)
class Repartitioned:
    partitions_before: int
    partitions: int
    topics: int
    """Topics whose partition count was raised."""
    profiles_moved: int
    profiles_kept: int


async def repartition(settings: WorkerSettings, partitions: int) -> Repartitioned:
    admin = AIOKafkaAdminClient(**kafka.connection(settings))
    await admin.start()
    try:
        before = await partition_count(admin, settings.customer_topic)
        if partitions <= before:
            raise RepartitionRefused(
                f"{settings.customer_topic} has {before} partitions already; the count can "
                "only grow")
        await check_stopped_and_drained(admin, settings)
        state = await read_state(settings, before)
        grown = [name for name, (count, _) in topic_specs(settings).items()
                 if count == settings.partitions and name != settings.checkpoint_topic]
        await admin.create_partitions(
            {name: NewPartitions(total_count=partitions) for name in grown})
    finally:
        await admin.close()
    moved = await move_state(settings, state, partitions)
    return Repartitioned(before, partitions, len(grown), moved,
                         sum(len(keys) for keys in state.values()) - moved)


async def partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    (described,) = await admin.describe_topics([topic])
    if described["error_code"]:
        raise RepartitionRefused(f"{topic} not found (error {described['error_code']})")
    return len(described["partitions"])


async def check_stopped_and_drained(admin: AIOKafkaAdminClient,
                                    settings: WorkerSettings) -> None:
    for stage in STAGE_GROUPS:
        (response,) = await admin.describe_consumer_groups([settings.group(stage)])
        for described in response.groups:  # (error, group, state, protocol type, protocol,
            group, state, members = described[1], described[2], described[5]  # members, ...)
            if members:
                raise RepartitionRefused(
                    f"consumer group {group} still has {len(members)} member(s) ({state}): "
                    "stop every worker first (a stopped static member stays until its "
                    "session times out)")
    committed = await admin.list_consumer_group_offsets(settings.group("customer"))
    client = AIOKafkaConsumer(**kafka.connection(settings), group_id=None,
                              enable_auto_commit=False)
    await client.start()
    try:
        tps = await kafka.topic_partitions(client, settings.customer_topic)
        ends = await kafka.end_offsets(client, tps)
    finally:
        await client.stop()
    behind = {tp.partition: end - (committed[tp].offset if tp in committed else 0)
              for tp, end in ends.items()}
    if any(behind.values()):
        raise RepartitionRefused(
            f"{settings.customer_topic} is not consumed to its end (records left per "
            f"partition: {behind}): let the workers drain it before stopping them")


async def read_state(settings: WorkerSettings, partitions: int
                     ) -> dict[int, dict[str, bytes]]:
    """The customer-state changelog as it stands: partition -> key -> latest value."""
    client = AIOKafkaConsumer(**kafka.connection(settings), group_id=None,
                              enable_auto_commit=False,
                              max_partition_fetch_bytes=16 * 1024 * 1024)
    await client.start()
    state: dict[int, dict[str, bytes]] = defaultdict(dict)

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        if record.value is None:
            state[record.partition].pop(record.key.decode(), None)
        else:
            state[record.partition][record.key.decode()] = record.value

    try:
        tps = [TopicPartition(settings.customer_state_topic, p) for p in range(partitions)]
        client.assign(tps)
        await kafka.read_to_end(client, tps, apply)
    finally:
        await client.stop()
    return state


async def move_state(settings: WorkerSettings, state: dict[int, dict[str, bytes]],
                     partitions: int) -> int:
    """Profiles to their new partitions (deleted from the old); budget pots re-split. Returns
    the number of profiles moved."""
    topic, moved = settings.customer_state_topic, 0
    spent_by_day: dict[str, float] = defaultdict(float)
    producer = kafka.producer(settings, acks="all")
    await producer.start()
    try:
        for old, records in state.items():
            for key, value in records.items():
                if key == BUDGET_KEY:
                    for day, spent in orjson.loads(value).items():
                        spent_by_day[day] += spent
                    continue
                if key.startswith(PARTITION_KEY_PREFIX):
                    continue  # a partition record this version does not know: left alone
                new = partition_of(key, partitions)
                if new != old:
                    await producer.send(topic, key=key.encode(), value=value, partition=new)
                    await producer.send(topic, key=key.encode(), value=None, partition=old)
                    moved += 1
        pot = orjson.dumps({day: spent / partitions for day, spent in spent_by_day.items()})
        for partition in range(partitions):
            await producer.send(topic, key=BUDGET_KEY.encode(), value=pot, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    logger.info("moved %d profiles to %d partitions", moved, partitions)
    return moved
