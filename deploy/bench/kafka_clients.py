"""What one hop through a Kafka client costs the worker: a relay (consume from one topic,
produce to another, await the acks, commit every second) driven by the same load through
aiokafka (the worker's client) and through confluent-kafka (librdkafka, native), on the broker
the local stack runs. Prints the relay's own CPU time (user + system, all its threads) per
message.

The worker pays this about twice per event (input -> customer-events -> decisions), plus the
identity and replica topics. confluent-kafka is not a dependency of nextbest; run this from an
environment that has both clients:

    python -m venv var/clients && var/clients/bin/pip install aiokafka confluent-kafka uvloop
    var/clients/bin/python deploy/bench/kafka_clients.py --rates 1000,2000,4000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
import uuid

PARTITIONS = 4
PAYLOAD = os.urandom(150).hex().encode()  # 300 bytes, about an Avro event of the shop


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(broker: str, topic: str, rate: float, seconds: float) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=0)
    await producer.start()
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        await producer.send(topic, PAYLOAD, key=str(i % 997).encode())
        if i % 10 == 9 and (delay := start + (i + 1) / rate - time.monotonic()) > 0:
            await asyncio.sleep(delay)
    await producer.flush()
    await producer.stop()


async def relay_aiokafka(broker: str, source: str, sink: str, count: int) -> tuple[float, int]:
    """As the worker's stages do: getmany, one closed record batch per partition, the acks
    awaited before a commit."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(source, bootstrap_servers=broker, group_id=f"relay-{source}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5, acks=1)
    await consumer.start()
    await producer.start()
    seen, started, committed = 0, 0.0, time.monotonic()
    while seen < count:
        fetched = await consumer.getmany(timeout_ms=100, max_records=1000)
        if fetched and not seen:
            started = cpu_seconds()
        futures = []
        for tp, records in fetched.items():
            batch = producer.create_batch()
            for record in records:
                if batch.append(timestamp=None, key=record.key, value=record.value) is None:
                    batch.close()
                    futures.append(await producer.send_batch(batch, sink, partition=tp.partition))
                    batch = producer.create_batch()
                    batch.append(timestamp=None, key=record.key, value=record.value)
            batch.close()
            futures.append(await producer.send_batch(batch, sink, partition=tp.partition))
            seen += len(records)
        await asyncio.gather(*futures)
        if futures and time.monotonic() - committed > 1:
            await consumer.commit()
            committed = time.monotonic()
    used = cpu_seconds() - started
    await consumer.stop()
    await producer.stop()
    return used, seen


def relay_confluent(broker: str, source: str, sink: str, count: int) -> tuple[float, int]:
    from confluent_kafka import Consumer, Producer

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"relay-{source}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 20})
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 5, "acks": 1})
    consumer.subscribe([source])
    seen, started, committed = 0, 0.0, time.monotonic()
    while seen < count:
        messages = [m for m in consumer.consume(num_messages=1000, timeout=0.1) if not m.error()]
        if messages and not seen:
            started = cpu_seconds()
        for message in messages:
            producer.produce(sink, message.value(), key=message.key(),
                             partition=message.partition())
        seen += len(messages)
        if messages:
            producer.flush()
            if time.monotonic() - committed > 1:
                consumer.commit(asynchronous=False)
                committed = time.monotonic()
    used = cpu_seconds() - started
    consumer.close()
    return used, seen


def create_topics(broker: str, *names: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
        await admin.close()
    asyncio.run(create())


def measure(broker: str, client: str, rate: float, seconds: float) -> str:
    """One relay of ``client`` in its own process under ``rate`` messages/s: its output line."""
    run = uuid.uuid4().hex[:6]
    source, sink = f"clients-{run}-in", f"clients-{run}-out"
    create_topics(broker, source, sink)
    relay = subprocess.Popen([sys.executable, __file__, "--relay", client, "--broker", broker,
                              source, sink, str(int(rate * seconds))], stdout=subprocess.PIPE,
                             text=True)
    time.sleep(3)  # joined its group
    asyncio.run(load(broker, source, rate, seconds))
    out, _ = relay.communicate(timeout=seconds + 60)
    return out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--rates", default="1000,2000,4000")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--relay", choices=("aiokafka", "confluent"))
    parser.add_argument("topics", nargs="*")
    args = parser.parse_args()
    if args.relay:
        source, sink, count = args.topics
        if args.relay == "aiokafka":
            import uvloop
            used, seen = uvloop.run(relay_aiokafka(args.broker, source, sink, int(count)))
        else:
            used, seen = relay_confluent(args.broker, source, sink, int(count))
        print(f"{used / seen * 1e6:.1f}")
        return
    print("| rate | aiokafka us/message | confluent-kafka us/message |")
    print("|---:|---:|---:|")
    for rate in (float(r) for r in args.rates.split(",")):
        a, c = (measure(args.broker, client, rate, args.seconds)
                for client in ("aiokafka", "confluent"))
        print(f"| {rate:,.0f} | {a} | {c} |", flush=True)


if __name__ == "__main__":
    main()
