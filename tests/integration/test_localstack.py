"""The local stack works: Kafka round-trips records, Redis stores a key, reuse is detected."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from nextbest.localstack import ensure_kafka, ensure_redis, main


def _local_port(address: str) -> int:
    host, _, port = address.rpartition("://")[2].partition("/")[0].rpartition(":")
    if host not in {"127.0.0.1", "localhost"}:
        pytest.skip(f"{address} is not a local service")
    return int(port)


async def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.roundtrip"
    payloads = [f"event-{i}".encode() for i in range(5)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for payload in payloads:
            await producer.send_and_wait(topic, payload, key=b"customer-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < len(payloads):
                batch = await consumer.getmany(timeout_ms=1000)
                received += [record.value for records in batch.values() for record in records]
        await consumer.commit()
    finally:
        await consumer.stop()
    assert received == payloads  # one key -> one partition -> order kept


async def test_redis_set_get(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    key = f"nbtest:{uuid.uuid4().hex}"
    try:
        assert await client.set(key, "profile-v1", ex=60)
        assert await client.get(key) == b"profile-v1"
        assert await client.delete(key) == 1
    finally:
        await client.aclose()


def test_ensure_kafka_reuses_a_running_broker(kafka_bootstrap: str) -> None:
    service = ensure_kafka(port=_local_port(kafka_bootstrap))
    assert service.started is False
    assert service.address.endswith(f":{_local_port(kafka_bootstrap)}")
    service.stop()  # a reused broker is never stopped ...
    service.stop()  # ... and stop() may be called again
    assert ensure_kafka(port=_local_port(kafka_bootstrap)).started is False


def test_ensure_redis_reuses_a_running_redis(redis_url: str) -> None:
    service = ensure_redis(port=_local_port(redis_url))
    assert service.started is False
    service.stop()


def test_cli_status_reports_both_up(kafka_bootstrap: str, redis_url: str) -> None:
    argv = ["status", "--kafka-port", str(_local_port(kafka_bootstrap))]
    argv += ["--redis-port", str(_local_port(redis_url))]
    assert main(argv) == 0
