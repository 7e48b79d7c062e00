"""The worker's Kafka plumbing on aiokafka: clients, key partitioning, in-flight sends.

The worker drives aiokafka directly (no stream framework in between): it fetches records in
batches, hands them to the engine, produces without waiting per message and waits once per
checkpoint for everything it produced (:class:`InFlight`) before it commits what it consumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from nextbest.partitions import partition_of as partition_of  # keys as Kafka (and the core)
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)


def _cheaper_futures() -> None:
    """aiokafka makes a future per message sent with ``asyncio.get_event_loop()`` and a check
    that the loop runs - several percent of a worker's CPU; ``asyncio.get_running_loop()`` is the
    same answer (and the same error outside a running loop) in one C call."""
    import aiokafka.util

    aiokafka.util.get_running_loop = asyncio.get_running_loop


_cheaper_futures()


DELIVERY_TIMEOUT_MS = 300_000
"""How long the producer keeps retrying what it could not deliver (aiokafka's
``request_timeout_ms``, which is also how long a batch may wait for a leader). A broker that is
down for less than this costs a stall, not a crash: the worker cannot fetch meanwhile, so what
waits is bounded by what it had fetched, and it all goes out once the broker is back. Past it
the delivery fails, the checkpoint with it, and the worker exits to be restarted - nothing it
had not committed is lost (aiokafka's default, 40 s, made a one-minute outage a crash)."""


def connection(settings: WorkerSettings) -> dict[str, Any]:
    """Where the cluster is and how to authenticate: the options every Kafka client of the
    worker is made with (producers, consumers, admin). Secrets stay in the settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_broker,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None)
    return options


def producer(settings: WorkerSettings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **connection(settings),
        "linger_ms": settings.producer_linger_ms,
        "max_batch_size": 256 * 1024,
        "acks": 1,
        "request_timeout_ms": DELIVERY_TIMEOUT_MS,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(settings: WorkerSettings, *, group: str | None, quiet: bool = False,
             **overrides: Any) -> AIOKafkaConsumer:
    """A consumer that never commits by itself; ``group=None`` for one that is assigned
    partitions by hand (replicas of whole topics). ``quiet``: one that may wait longer on the
    broker when there is nothing to fetch (``WorkerSettings.quiet_fetch_max_wait_ms``).

    aiokafka keeps one fetch in flight per broker: records of a partition consumed meanwhile
    are fetched again only when that fetch returns, so consumers of several busy partitions
    on the decision path keep the short wait."""
    options: dict[str, Any] = {
        **connection(settings),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": (settings.quiet_fetch_max_wait_ms if quiet
                              else settings.fetch_max_wait_ms),
        "fetch_min_bytes": settings.fetch_min_bytes,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "session_timeout_ms": int(settings.session_timeout_seconds * 1000),
        "heartbeat_interval_ms": int(min(3.0, settings.session_timeout_seconds / 3) * 1000),
    }
    if group is not None and settings.worker_id:
        # Static membership: a restarted worker takes its partitions back without a rebalance.
        options["group_instance_id"] = f"{settings.worker_id}.{group}"
    options.update(overrides)
    return AIOKafkaConsumer(**options)


class InFlight:
    """Delivery futures of messages produced and not yet acknowledged by the broker."""

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[Any]] = []

    def add(self, future: asyncio.Future[Any]) -> None:
        self._futures.append(future)

    def __len__(self) -> int:
        return len(self._futures)

    def take(self) -> list[asyncio.Future[Any]]:
        futures, self._futures = self._futures, []
        return futures

    async def settle(self) -> None:
        """Wait for every pending ack; raises the first delivery error (then nothing that
        depends on these messages may be committed)."""
        futures, self._futures = self._futures, []
        if futures:
            await asyncio.gather(*futures)


class Outbox:
    """Messages produced while a batch is processed, handed to the producer together: one
    record batch per topic partition, in the order they were added (one delivery future per
    record batch instead of one per message). The batches are closed: the producer sends them
    at once instead of lingering for more (closing took the bench's p50 at 1,000 events/s from
    31-46 ms to 11-12 ms, at the same CPU per event)."""

    def __init__(self, producer: AIOKafkaProducer, inflight: InFlight) -> None:
        self._producer = producer
        self._inflight = inflight
        self._pending: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Any]]] = {}

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
            headers: Any = None) -> None:
        messages = self._pending.get((topic, partition))
        if messages is None:
            messages = self._pending[(topic, partition)] = []
        messages.append((key, value, headers or []))

    def __len__(self) -> int:
        return sum(len(m) for m in self._pending.values())

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (topic, partition), messages in pending.items():
            for future, _ in await send_closed(self._producer, topic, partition, messages):
                self._inflight.add(future)


async def send_closed(producer: AIOKafkaProducer, topic: str, partition: int,
                      messages: list[tuple[bytes | None, bytes | None, Any]]
                      ) -> list[tuple[asyncio.Future[Any], int]]:
    """``messages`` (key, value, headers) to one partition in closed record batches, in order:
    each batch's delivery future (its metadata carries the batch's first offset) and how many
    records it holds."""
    sent: list[tuple[asyncio.Future[Any], int]] = []
    batch, count = producer.create_batch(), 0
    for key, value, headers in messages:
        if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
            batch.close()
            sent.append((await producer.send_batch(batch, topic, partition=partition), count))
            batch, count = producer.create_batch(), 0
            batch.append(timestamp=None, key=key, value=value, headers=headers)
        count += 1
    batch.close()  # complete: sent now, not after the producer's linger
    sent.append((await producer.send_batch(batch, topic, partition=partition), count))
    return sent


async def read_to_end(client: AIOKafkaConsumer, tps: list[TopicPartition],
                      apply: Callable[[ConsumerRecord[bytes, bytes]], None]
                      ) -> dict[TopicPartition, int]:
    """Read the assigned partitions ``tps`` from their beginning up to their end as of now,
    handing every record to ``apply``; returns those end offsets (where the client now is)."""
    ends = await end_offsets(client, tps)
    # An explicit offset, not seek_to_beginning(): that one is a reset request, and a reset the
    # client started on its own at assign() (to the latest offset) can win the race, leaving
    # the client at the end with nothing read.
    starts = dict(await client.beginning_offsets(tps)) if tps else {}
    for tp in tps:
        client.seek(tp, starts[tp])
    remaining = {tp for tp in tps if ends[tp] > starts[tp]}
    while remaining:
        for records in (await client.getmany(*remaining, timeout_ms=1000)).values():
            for record in records:
                apply(record)
        remaining = {tp for tp in remaining if await client.position(tp) < ends[tp]}
    return ends


async def end_offsets(client: AIOKafkaConsumer, tps: Iterable[TopicPartition]
                      ) -> dict[TopicPartition, int]:
    tps = list(tps)
    return dict(await client.end_offsets(tps)) if tps else {}


async def topic_partitions(client: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` (the topic must exist)."""
    for _ in range(50):
        # The consumer's own metadata covers only its subscriptions: ask the cluster.
        try:
            metadata = await client._client.fetch_all_metadata()
        except KafkaError as exc:  # a busy or restarting broker: ask again
            logger.warning("metadata for %s not fetched, retrying: %s", topic, exc)
            await asyncio.sleep(0.2)
            continue
        found = metadata.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} has no partitions (was it created?)")


def unread(consumer: AIOKafkaConsumer, topics: Collection[str]) -> set[TopicPartition]:
    """Assigned partitions of ``topics`` with records on the broker not yet handed out: the
    high watermark of the last fetch response beyond the consumer's position (a partition
    not fetched from yet, or whose position is still being reset, counts as unread).
    aiokafka keeps both per partition; its public ``position`` is a coroutine that may wait
    for an offset reset, so they are read from its assignment state here, without waiting."""
    found: set[TopicPartition] = set()
    assignment = consumer._subscription.subscription
    if assignment is None:
        return found
    state = assignment.assignment
    for tp in consumer.assignment():
        if tp.topic not in topics:
            continue
        tp_state = state.state_value(tp)
        if (tp_state is None or not tp_state.has_valid_position  # being reset: not fetched
                or tp_state.highwater is None or tp_state.highwater > tp_state.position):
            found.add(tp)
    return found
