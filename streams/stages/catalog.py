"""The catalog on every worker: items and stock, read from the compacted catalog topic.

Every worker reads every partition of ``events.catalog`` from the beginning (no consumer
group), so each knows the whole catalog and all stock. Stock and attribute updates may arrive
separately: an item's fields are merged. Malformed catalog messages are the router's to
dead-letter (it consumes the topic in the group); here they are skipped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer

from nextbest.codec import CodecError
from nextbest.streams import kafka

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

logger = logging.getLogger(__name__)


class CatalogReplica:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.items: dict[str, dict[str, Any]] = {}
        self._client: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Read the catalog up to its current end before the worker routes anything."""
        settings = self.pipeline.settings
        client = self._client = kafka.consumer(settings, group=None, quiet=True)
        await client.start()
        tps = await kafka.topic_partitions(client, settings.input_topic("catalog"))
        client.assign(tps)
        await kafka.read_to_end(client, tps, lambda record: self.apply(record.value))
        logger.info("catalog replica: %d items", len(self.items))

    def apply(self, value: bytes | None) -> None:
        try:
            item = self.pipeline.codec.decode(value, family_hint="catalog").event
        except CodecError:
            return
        merged = self.items.setdefault(item["item_id"], {})
        merged.update({k: v for k, v in item.items() if v is not None and v != []})
        try:
            self.pipeline.engine.models.update_catalog(dict(merged))
        except Exception:
            logger.exception("catalog update of one item failed")

    async def run(self) -> None:
        assert self._client is not None
        while True:
            for records in (await self._client.getmany(timeout_ms=1000)).values():
                for record in records:
                    self.apply(record.value)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
