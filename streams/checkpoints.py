"""Model checkpoints in a compacted Kafka topic.

A worker's models learn from every event; their state must survive the worker. A local file
would not help the replacement of a crashed worker on another machine, so the worker writes its
models' checkpoint (bytes from :meth:`nextbest.models.ModelSuite.checkpoint`) to a compacted
topic with one partition, keyed by model suite, and a starting worker reads the newest one back
before it processes anything.

With several workers every one learns every event (``streams/stages/lessons.py``) and writes
under the same key: the newest checkpoint wins, and a worker that starts restores it and learns
the lessons published since (the checkpoint holds where its models stood on the lesson topic).
"""

from __future__ import annotations

import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from nextbest.streams import kafka
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

KEY = b"models"
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024
"""Topic ``max.message.bytes`` and the producer's and consumer's limits for one checkpoint."""
TAIL = 32
"""Records read back from the end of the topic (compaction is lazy; the newest one wins)."""
READ_TIMEOUT_SECONDS = 120.0


async def load_checkpoint(settings: WorkerSettings) -> bytes | None:
    """The newest checkpoint on the topic, or None when there is none yet."""
    consumer = AIOKafkaConsumer(
        **kafka.connection(settings), group_id=None, enable_auto_commit=False,
        fetch_max_bytes=MAX_CHECKPOINT_BYTES, max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES,
    )
    await consumer.start()
    try:
        tp = TopicPartition(settings.checkpoint_topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        start = (await consumer.beginning_offsets([tp]))[tp]
        if end <= start:
            return None
        consumer.seek(tp, max(start, end - TAIL))
        newest: bytes | None = None
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while await consumer.position(tp) < end:  # not the first empty fetch: a slow broker's
            if time.monotonic() > deadline:  # would leave an older checkpoint, or none
                raise RuntimeError(f"the model checkpoints were not read within "
                                   f"{READ_TIMEOUT_SECONDS:.0f} s")
            batch = await consumer.getmany(tp, timeout_ms=5_000)
            for record in batch.get(tp, []):
                if record.key == KEY and record.value is not None:
                    newest = record.value
        if newest is not None:
            logger.info("model checkpoint loaded (%d bytes)", len(newest))
        return newest
    finally:
        await consumer.stop()


class CheckpointWriter:
    """Sends checkpoints with a producer sized for them (the worker's allows 1 MB)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def write(self, checkpoint: bytes) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                **kafka.connection(self.settings),
                max_request_size=MAX_CHECKPOINT_BYTES, acks="all",
            )
            await self._producer.start()
        await self._producer.send_and_wait(self.settings.checkpoint_topic, checkpoint, key=KEY)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
