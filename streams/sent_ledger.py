"""Which decisions already reached Kafka, read back from the decision topics themselves.

Without Kafka transactions a worker cannot write a decision and the profile that remembers it in
one atomic step. nextbest sends the decision first and waits for the broker's ack, then writes
the profile: a crash in between can lose nothing. What it could do is send the decision again
when the event is replayed - so when a customer partition is (re)assigned, the worker reads the
tail of the decision topics' same partition (decisions are keyed by customer, like the customer
topic, and have as many partitions) and skips any decision id found there.
"""

from __future__ import annotations

import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from nextbest.codec import Codec
from nextbest.streams import kafka
from nextbest.streams.settings import DECISION_TYPES, WorkerSettings

logger = logging.getLogger(__name__)

TAIL = 20_000
"""Decisions read back per topic partition: far more than one commit interval can produce."""
READ_TIMEOUT_SECONDS = 120.0


async def recently_sent(settings: WorkerSettings, codec: Codec, partition: int) -> set[str]:
    consumer = AIOKafkaConsumer(
        **kafka.connection(settings), enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(settings.decision_topic(t), partition) for t in DECISION_TYPES]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(starts[tp], ends[tp] - TAIL))
        ids: set[str] = set()
        remaining = {tp for tp in tps if ends[tp] > max(starts[tp], ends[tp] - TAIL)}
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    ids.add(codec.decode_decision(record.value)["decision_id"])
            # Done at the end offsets, not at the first empty fetch: a slow broker's empty
            # answer left the ledger short, and a replayed decision went out twice.
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
            if remaining and time.monotonic() > deadline:
                raise RuntimeError(
                    f"the sent ledger of partition {partition} was not read within "
                    f"{READ_TIMEOUT_SECONDS:.0f} s: not stepping it rather than sending twice")
        logger.info("partition %d: %d decisions already sent", partition, len(ids))
        return ids
    finally:
        await consumer.stop()
