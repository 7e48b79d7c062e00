"""Drives a real worker process against the test broker and Redis: publish events, read what
comes out (decision topics, dead letters) and what is served (the worker's HTTP endpoint)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr

from nextbest.cli.worker_process import WorkerProcess
from nextbest.codec import Codec
from nextbest.simulation.records import key_of
from nextbest.streams.admin import ensure_topics
from nextbest.streams.settings import DECISION_TYPES, WorkerSettings
from tests.events import RELAXED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DRAIN_S = 30.0
"""At most this long to read what the topics held when the condition was met."""
HOLD_S = 300.0
"""How long a held publisher waits for its test to release it."""


async def drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int],
                messages: list[Any], deadline: float) -> None:
    """Read on until every partition's position has reached its end offset in ``ends``."""
    while time.monotonic() < deadline:
        behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
        if not behind:
            return
        for records in (await consumer.getmany(*behind, timeout_ms=500)).values():
            messages.extend(records)
    raise AssertionError(f"could not read to the end offsets {ends} in time")


class Harness:
    def __init__(self, *, kafka: str, redis: str, prefix: str, data_dir: Path,
                 worker_id: str | None = None, engine: dict[str, Any] | None = None,
                 **overrides: Any) -> None:
        self.settings = WorkerSettings(
            kafka_broker=kafka, redis_url=SecretStr(redis), topic_prefix=f"{prefix}.",
            data_dir=data_dir / "worker", web_port=free_port(), wall_clock_ticks=False,
            worker_id=worker_id, **overrides,
        )
        self.codec = Codec()
        self.engine = RELAXED if engine is None else engine
        self.worker = WorkerProcess(self.settings, log_path=data_dir / "worker.log",
                                    engine=self.engine)

    def start_worker(self) -> None:
        asyncio.run(ensure_topics(self.settings))
        self.worker.start()
        self.worker.ready()

    def restart_worker_without_local_state(self, data_dir: Path) -> None:
        """A replacement worker on another disk: everything it knows comes from changelogs."""
        self.settings = self.settings.model_copy(update={"data_dir": data_dir / "worker"})
        self.worker = WorkerProcess(self.settings, log_path=data_dir / "worker.log",
                                    engine=self.engine)
        self.worker.start()
        self.worker.ready()

    def publish(self, family: str, events: list[dict[str, Any]], *, as_json: bool = False,
                raw: list[bytes] | None = None) -> None:
        """Publish events (Avro, or JSON) and raw byte messages to the family's input topic."""
        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_broker)
            await producer.start()
            try:
                topic = self.settings.input_topic(family)
                for event in events:
                    encode = self.codec.encode_json if as_json else self.codec.encode
                    await producer.send_and_wait(topic, encode(family, event), key=b"k")
                for value in raw or []:
                    await producer.send_and_wait(topic, value, key=b"bad",
                                                 headers=[("origin", b"test")])
            finally:
                await producer.stop()
        asyncio.run(send())

    def publish_in_order(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish (family, event) pairs in the order given through one producer, each keyed
        by its customer's first identifier (a catalog event by its item), as producers of
        live traffic do."""
        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_broker)
            await producer.start()
            try:
                for family, event in events:
                    key = (event["item_id"] if family == "catalog"
                           else key_of(event["customer"]))
                    await producer.send(self.settings.input_topic(family),
                                        self.codec.encode(family, event), key=key.encode())
                await producer.flush()
            finally:
                await producer.stop()
        asyncio.run(send())

    def publish_in_background(self, events: list[tuple[str, dict[str, Any]]], *,
                              pause: float, chunk: int = 50,
                              hold: threading.Event | None = None,
                              held_from: float = 0.75) -> tuple[threading.Thread,
                                                                threading.Event]:
        """Publish (family, event) pairs ``chunk`` at a time with ``pause`` seconds between, in
        a thread; returns it and an event set once everything is published. With ``hold``, the
        events from the ``held_from`` share on wait until ``hold`` is set, so a test can act
        (kill a worker, start one) while part of the stream is surely still to come."""
        published = threading.Event()
        held_at = int(len(events) * held_from) if hold is not None else len(events)

        def publish() -> None:
            for start in range(0, len(events), chunk):
                if hold is not None and start + chunk > held_at >= start:
                    self.publish_now(events[start:held_at])
                    hold.wait(timeout=HOLD_S)
                    self.publish_now(events[held_at:start + chunk])
                else:
                    self.publish_now(events[start:start + chunk])
                time.sleep(pause)
            published.set()

        thread = threading.Thread(target=publish)
        thread.start()
        return thread, published

    def publish_now(self, part: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish (family, event) pairs, one family after another."""
        for family in dict.fromkeys(f for f, _ in part):
            self.publish(family, [e for f, e in part if f == family])

    def read(self, topics: list[str], *, until: Callable[[list[Any]], bool],
             timeout: float = 60.0) -> list[Any]:
        """All messages on ``topics`` from the beginning, once ``until(messages)`` holds: then
        everything the topics held at that moment is read too (so duplicates show up)."""
        async def consume() -> list[Any]:
            consumer = AIOKafkaConsumer(
                *topics, bootstrap_servers=self.settings.kafka_broker, group_id=None,
                auto_offset_reset="earliest", enable_auto_commit=False,
            )
            await consumer.start()
            messages: list[Any] = []
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        messages.extend(records)
                    if until(messages):
                        ends = await consumer.end_offsets(list(consumer.assignment()))
                        await drain(consumer, ends, messages, time.monotonic() + DRAIN_S)
                        return messages
            finally:
                await consumer.stop()
            return messages
        return asyncio.run(consume())

    def decisions(self, *, until: Callable[[list[dict[str, Any]]], bool],
                  timeout: float = 60.0) -> list[dict[str, Any]]:
        topics = [self.settings.decision_topic(t) for t in DECISION_TYPES]

        def decoded(messages: list[Any]) -> list[dict[str, Any]]:
            return [self.codec.decode_decision(m.value) for m in messages]

        return decoded(self.read(topics, until=lambda ms: until(decoded(ms)), timeout=timeout))

    def logged(self, *, until: Callable[[list[dict[str, Any]]], bool],
               timeout: float = 60.0) -> list[dict[str, Any]]:
        """The decision log: every verdict (sent, control, suppressed, deferred)."""
        def decoded(messages: list[Any]) -> list[dict[str, Any]]:
            return [self.codec.decode_decision(m.value) for m in messages]

        return decoded(self.read([self.settings.decision_log_topic],
                                 until=lambda ms: until(decoded(ms)), timeout=timeout))

    def records(self, topic: str, family: str, *, until: Callable[[list[dict[str, Any]]], bool],
                timeout: float = 60.0) -> list[dict[str, Any]]:
        """Records of one of nextbest's Avro output families (outcome, erasure_ack...)."""
        def decoded(messages: list[Any]) -> list[dict[str, Any]]:
            return [self.codec.decode(m.value, family).event for m in messages]

        return decoded(self.read([topic], until=lambda ms: until(decoded(ms)), timeout=timeout))

    def deadletters(self, *, count: int, timeout: float = 60.0) -> list[Any]:
        return self.read([self.settings.deadletter_topic], until=lambda ms: len(ms) >= count,
                         timeout=timeout)

    def customer(self, ref: str, *, until: Callable[[dict[str, Any]], bool],
                 timeout: float = 30.0) -> dict[str, Any]:
        """The worker's served view of a customer, polled until ``until(view)`` holds."""
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        request = urllib.request.Request(f"{self.worker.url}/customers/{ref}",
                                         headers=self.authorization())
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request) as response:
                    view = orjson.loads(response.read())
                if until(view):
                    return view
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            time.sleep(0.3)
        raise AssertionError(f"customer {ref} never satisfied the condition; last view: {view}")

    def authorization(self) -> dict[str, str]:
        """The header the worker's customer data endpoints need (none without a token)."""
        token = self.settings.api_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    def gone(self, ref: str, *, timeout: float = 10.0) -> bool:
        """True once the worker no longer serves ``ref`` (404) - Redis is written behind, so an
        erasure shows there within a flush interval, not at once."""
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.worker.url}/customers/{ref}",
                                         headers=self.authorization())
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request):
                    pass
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return True
                raise
            time.sleep(0.2)
        return False

    def models(self, *, until: Callable[[dict[str, Any]], bool], timeout: float = 30.0,
               url: str | None = None) -> dict[str, Any]:
        """A worker's model statistics (/models; the harness's worker unless ``url``), polled
        until ``until(stats)`` holds."""
        deadline = time.monotonic() + timeout
        stats: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{url or self.worker.url}/models") as response:
                stats = orjson.loads(response.read())
            if until(stats):
                return stats
            time.sleep(0.3)
        raise AssertionError(f"models never satisfied the condition; last stats: {stats}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.worker.url}/metrics") as response:
            return response.read().decode()
