"""Shared learning: every worker's models learn what every other worker's events taught.

The customer stage steps the events of the partitions it owns; what each taught the models (a
lesson: see :class:`nextbest.models.suite.ModelSuite`) is learnt there at once and published to
``nextbest.model-lessons``, in the same record batches as the decisions it made. Every worker
reads every partition of that topic (no consumer group) and learns the lessons of the others -
its own come back too and are skipped. So the models of each worker learn from every customer,
adding a worker changes what they learn only in the order lessons interleave, and a worker
that takes partitions over finds its models already know those customers: pending churn
snapshots included, so no false "lapsed" labels.

Where a worker's models stand on the topic (``ModelSuite.lesson_offsets``) is part of their
checkpoint: a worker that restores a checkpoint - its own or another's, the newest wins - reads
on from there before it steps anything. Learning is at least once: lessons published after a
checkpoint by the worker that wrote it are learnt again by a worker restoring it, as are the
lessons of events replayed after a crash.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from nextbest.streams import kafka

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

logger = logging.getLogger(__name__)


class LessonReplica:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._client: AIOKafkaConsumer | None = None
        self.learnt = 0

    async def start(self) -> None:
        """Catch up from where the restored models stand (the whole topic without a
        checkpoint) to the topic's end, before the worker steps anything."""
        settings, models = self.pipeline.settings, self.pipeline.engine.models
        client = self._client = kafka.consumer(settings, group=None)
        await client.start()
        tps = await kafka.topic_partitions(client, settings.lesson_topic)
        client.assign(tps)
        starts = dict(await client.beginning_offsets(tps))
        for tp in tps:
            at = models.lesson_offsets.get(tp.partition, starts[tp])
            if at < starts[tp]:
                logger.warning("lessons of %s[%d] before offset %d have expired: the models "
                               "missed %d of them", tp.topic, tp.partition, starts[tp],
                               starts[tp] - at)
                at = starts[tp]
            client.seek(tp, at)
        ends = dict(await client.end_offsets(tps))
        remaining = {tp for tp in tps if await client.position(tp) < ends[tp]}
        while remaining:
            for records in (await client.getmany(*remaining, timeout_ms=1000)).values():
                self.apply(records)
            remaining = {tp for tp in remaining if await client.position(tp) < ends[tp]}
        logger.info("lesson replica caught up: %d lessons of other workers learnt", self.learnt)

    def apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        models, me = self.pipeline.engine.models, self.pipeline.instance
        for record in records:
            models.lesson_offsets[record.partition] = record.offset + 1
            if record.value is None:
                continue
            try:
                lesson = orjson.loads(record.value)
                if lesson.pop("w", None) == me:
                    continue  # learnt when it was stepped here
                models.learn(lesson)
                self.learnt += 1
            except Exception:
                logger.exception("lesson %s[%d]@%d not learnt", record.topic, record.partition,
                                 record.offset)

    async def run(self) -> None:
        assert self._client is not None
        while True:
            for records in (await self._client.getmany(timeout_ms=1000)).values():
                self.apply(records)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
