"""The worker's own Kafka helpers against the real broker."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nextbest.streams.kafka import read_to_end


def test_read_to_end_reads_every_record_from_the_beginning(kafka_bootstrap: str) -> None:
    topic = f"nbplumbing-{uuid.uuid4().hex[:8]}"

    async def run() -> list[list[int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        for n in range(30):
            await producer.send(topic, key=str(n).encode(), value=b"v", partition=n % 2)
        await producer.flush()
        await producer.stop()
        both = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        reads = []
        # A fresh client each time, one partition or both: a client assigned one partition
        # used to reset it to its end on its own and read nothing.
        for tps in (both[:1], both, both[1:], both):
            client = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None,
                                      enable_auto_commit=False)
            await client.start()
            client.assign(tps)
            seen: list[ConsumerRecord[bytes, bytes]] = []
            ends = await read_to_end(client, tps, seen.append)
            await client.stop()
            assert ends == dict.fromkeys(tps, 15)
            reads.append(sorted(int(r.key or b"") for r in seen))
        return reads

    evens, odds = list(range(0, 30, 2)), list(range(1, 30, 2))
    assert asyncio.run(run()) == [evens, list(range(30)), odds, list(range(30))]
