"""Customer state of one partition: profiles in memory, made durable by a changelog topic.

Profiles are kept as their serialised bytes, and the ones in use (a bounded set of hot
customers) as live objects. A changed profile is marked dirty and written to the changelog
(``nextbest.customer-state``, compacted, keyed by customer, one partition per customer
partition) once per checkpoint, however many events changed it in between. A worker that takes a
partition over reads that changelog partition back before it processes the partition's events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nextbest.profile.state import CustomerProfile
from nextbest.streams import kafka
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

PARTITION_KEY_PREFIX = "@"
"""Changelog keys of the partition's own records (not customers: canonical ids never start so),
such as the incentive budget's pot."""

HOT_PROFILES = 50_000
"""Live profile objects kept per partition; colder ones stay serialised until touched."""


class PartitionProfiles:
    """A :class:`nextbest.driver.ProfileStore` over serialised profiles and a changelog."""

    def __init__(self, blobs: dict[str, bytes] | None = None, *, hot: int = HOT_PROFILES
                 ) -> None:
        blobs = blobs or {}
        self.records: dict[str, bytes] = {
            key: blobs.pop(key) for key in [k for k in blobs if k.startswith(PARTITION_KEY_PREFIX)]}
        """The partition's own records as restored (keys starting with ``@``)."""
        self._blobs: dict[str, bytes] = blobs
        self._hot: dict[str, CustomerProfile] = {}
        self._dirty: set[str] = set()
        self._hot_limit = hot

    def __len__(self) -> int:
        return len(self._blobs) + sum(1 for c in self._hot if c not in self._blobs)

    def get(self, customer_id: str) -> CustomerProfile | None:
        profile = self._hot.get(customer_id)
        if profile is not None:
            return profile
        blob = self._blobs.get(customer_id)
        if blob is None:
            return None
        profile = CustomerProfile.from_dict(orjson.loads(blob))
        self._hot[customer_id] = profile
        return profile

    def put(self, profile: CustomerProfile) -> None:
        self._hot[profile.customer_id] = profile
        self._dirty.add(profile.customer_id)

    def delete(self, customer_id: str) -> None:
        self._hot.pop(customer_id, None)
        self._blobs.pop(customer_id, None)
        self._dirty.add(customer_id)

    def every(self) -> Iterator[CustomerProfile]:
        """Every profile of the partition; the cold ones read without warming them."""
        yield from self._hot.values()
        for customer_id, blob in self._blobs.items():
            if customer_id not in self._hot:
                yield CustomerProfile.from_dict(orjson.loads(blob))

    def wake_times(self) -> Iterator[tuple[str, int]]:
        for customer_id, profile in self._hot.items():
            if profile.due:
                yield customer_id, min(profile.due.values())
        for customer_id, blob in self._blobs.items():
            if customer_id in self._hot:
                continue
            due = orjson.loads(blob).get("due")
            if due:
                yield customer_id, min(due.values())

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    def changes(self) -> Iterator[tuple[str, bytes | None]]:
        """Every profile changed since the last call, serialised as it is consumed (None:
        deleted); once consumed, the cold end of the hot set is let go (it is clean now)."""
        dirty, self._dirty = self._dirty, set()
        for customer_id in dirty:
            profile = self._hot.get(customer_id)
            if profile is None:
                yield customer_id, None
                continue
            blob = profile.to_json()
            self._blobs[customer_id] = blob
            yield customer_id, blob
        excess = len(self._hot) - self._hot_limit
        if excess > 0:
            for customer_id in list(self._hot)[:excess]:
                if customer_id not in self._dirty:
                    del self._hot[customer_id]


async def restore(settings: WorkerSettings, tp: TopicPartition) -> PartitionProfiles:
    """Read a changelog partition from its beginning to its end."""
    client = AIOKafkaConsumer(**kafka.connection(settings), group_id=None,
                              enable_auto_commit=False,
                              max_partition_fetch_bytes=16 * 1024 * 1024)
    await client.start()
    try:
        client.assign([tp])
        blobs: dict[str, bytes] = {}

        def apply(record: ConsumerRecord[bytes, bytes]) -> None:
            if record.key is None:
                return
            if record.value is None:
                blobs.pop(record.key.decode(), None)
            else:
                blobs[record.key.decode()] = record.value

        ends = await kafka.read_to_end(client, [tp], apply)
        logger.info("restored %d profiles of %s[%d] (%d records)", len(blobs), tp.topic,
                    tp.partition, ends[tp])
        return PartitionProfiles(blobs)
    finally:
        await client.stop()
