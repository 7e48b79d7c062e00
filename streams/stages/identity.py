"""The identity graph across workers: one writer, a replica in every router.

Most events name identifiers that all belong to one known customer already; a router resolves
those from its own replica of the graph (:class:`GraphReplica`) and routes them at once. Only an
event that changes the graph - an identifier seen for the first time, a link between two
customers (a merge), an erasure - goes to ``nextbest.identity-requests``, whose single partition
has exactly one consumer in the group: the writer (:class:`IdentityWriter`). It applies the
change to its graph, writes the changed entries to ``nextbest.identity-graph`` (compacted: the
graph's changelog, and what every replica reads), and replies with the customer (and the
identifiers it left out as shared) once the graph entries are acked. Because every change
goes through the one writer, two routers can never give one new customer two ids: a router
routes a first sighting at once under the id derived from its strongest identifier (what the
writer gives a new customer), and the writer merges that provisional customer into the one the
graph already knew, should another router have linked those identifiers first. A new identifier
seen with one known customer's is routed at once to that customer and told to the writer the
same way, where the writer's answer could be nothing else (``Router.linked_to``); should another
router have linked it to someone else meanwhile, the writer merges the two.

Merges reach the customer stage as a ``merge`` message to the absorbed customer's partition; an
erasure as an ``erase`` message to the customer's partition; a merge undone (a split request, or
an identifier seen with more customers than ``shared_identifier_limit`` and so marked shared) as
a ``split`` message to the absorbed customer's partition. The shared marks and the merge records
are graph entries like the others: every replica has them, a new writer reads them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from nextbest.errors import UnprocessableEvent
from nextbest.identity import IdentityGraph, Split
from nextbest.identity.graph import Resolution, identifier_keys
from nextbest.identity.shared import SEEN, SHARED
from nextbest.streams import envelope, kafka
from nextbest.streams.privacy import erasure_ack_record
from nextbest.streams.stage import Batch, Stage

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline
    from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

_ID = "id:"


class RecordingStore(dict[str, Any]):
    """A dict that remembers which keys changed (None: removed) since ``take_changes``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changes: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changes[key] = value

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self:
            self.changes[key] = None
        return super().pop(key, default)

    def take_changes(self) -> dict[str, Any]:
        changes, self.changes = self.changes, {}
        return changes


async def read_graph(settings: WorkerSettings, topic: str) -> dict[str, Any]:
    """The whole graph topic from its beginning to its end."""
    client = AIOKafkaConsumer(**kafka.connection(settings), group_id=None,
                              enable_auto_commit=False,
                              max_partition_fetch_bytes=16 * 1024 * 1024)
    await client.start()
    try:
        tps = await kafka.topic_partitions(client, topic)
        client.assign(tps)
        store: dict[str, Any] = {}
        await kafka.read_to_end(client, tps, lambda r: _apply(store, r.key, r.value))
        return store
    finally:
        await client.stop()


def _apply(store: dict[str, Any], key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    name = key.decode()
    if value is None:
        store.pop(name, None)
    else:
        store[name] = orjson.loads(value)


class GraphReplica:
    """This worker's copy of the identity graph, kept current from the graph topic."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.store: dict[str, Any] = {}
        self._client: AIOKafkaConsumer | None = None
        self.changed: Callable[[str], None] = lambda key: None
        """Called with each identifier whose entry (its customer, or its shared mark) the
        replica applies while running."""

    def customer_of(self, keys: list[str]) -> str | None:
        """The customer all ``keys`` belong to, or None when one is unknown or they disagree."""
        store = self.store
        found = store.get(_ID + keys[0])
        if found is None:
            return None
        for key in keys[1:]:
            if store.get(_ID + key) != found:
                return None
        return str(found)

    def lookup(self, key: str) -> str | None:
        found = self.store.get(_ID + key)
        return None if found is None else str(found)

    def is_shared(self, key: str) -> bool:
        """Whether the writer marked this identifier shared (it resolves nobody)."""
        return SHARED + key in self.store

    def sighted(self, key: str) -> bool:
        """Whether the writer has counted sightings of this (weak) identifier: it is or was
        linked, and what a new event naming it resolves to is the writer's to say."""
        return SEEN + key in self.store

    def identifiers(self) -> Iterator[tuple[str, str]]:
        """Every identifier key and the customer it belongs to."""
        for name, customer_id in self.store.items():
            if name.startswith(_ID):
                yield name[len(_ID):], str(customer_id)

    async def start(self) -> None:
        """Read the graph up to its current end (the worker starts routing after that)."""
        settings = self.pipeline.settings
        client = self._client = kafka.consumer(settings, group=None, quiet=True)
        await client.start()
        tps = await kafka.topic_partitions(client, settings.identity_graph_topic)
        client.assign(tps)
        store = self.store
        await kafka.read_to_end(client, tps, lambda r: _apply(store, r.key, r.value))
        logger.info("identity replica: %d entries", len(self.store))

    async def run(self) -> None:
        assert self._client is not None
        while True:
            batch = await self._client.getmany(timeout_ms=1000)
            changed = self.changed
            for records in batch.values():
                for record in records:
                    _apply(self.store, record.key, record.value)
                    name = record.key.decode() if record.key else ""
                    if name.startswith(_ID):
                        changed(name[len(_ID):])
                    elif name.startswith(SHARED):
                        changed(name[len(SHARED):])

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()


class IdentityWriter(Stage):
    """The one consumer of ``nextbest.identity-requests``: applies graph changes in order."""

    name = "identity"
    quiet = True  # one partition

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline.settings, [pipeline.settings.identity_request_topic],
                         pipeline.producer)
        self.pipeline = pipeline
        self.store = RecordingStore()
        self.graph = self.graph_in(self.store)
        self.replies: list[dict[str, Any]] = []
        self.ready = False

    def graph_in(self, store: RecordingStore) -> IdentityGraph:
        return IdentityGraph(store, self.pipeline.engine.settings.shared_identifier_limit)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        if not partitions:
            return
        settings = self.settings
        # Own copy, not the replica: the writer must see its own writes at once.
        store = await read_graph(settings, settings.identity_graph_topic)
        self.store = RecordingStore(store)
        self.graph = self.graph_in(self.store)
        self.ready = True

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        if partitions:
            self.ready = False
            self.store = RecordingStore()
            self.graph = self.graph_in(self.store)

    async def process(self, batch: Batch) -> None:
        for records in batch.values():
            for record in records:
                request = envelope.unpack(record.value)
                if "refs" in request:  # first sightings a router routed already: no reply
                    for sighting in request["refs"]:
                        with contextlib.suppress(UnprocessableEvent):
                            await self.resolve(sighting["ref"], sighting["provisional"],
                                               int(sighting.get("at", 0)))
                    continue
                reply: dict[str, Any] = {"rid": request["rid"], "cid": None}
                try:
                    if "erase" in request:
                        await self.erase(request["erase"])
                    elif "split" in request:
                        await self.split(request["split"])
                    else:
                        resolution = await self.resolve(request["ref"], None,
                                                        int(request.get("at", 0)))
                        reply["cid"] = resolution.customer_id
                        if resolution.shared:
                            reply["shared"] = resolution.shared
                except UnprocessableEvent as exc:
                    # The router checked; its replica may not have known yet that an identifier
                    # is shared (or the request is corrupt): the router dead-letters the event.
                    reply["reason"] = exc.reason
                self.replies.append(reply)
        # Replies go out at once (routers hold events until then); offsets are committed on
        # the stage's interval - a replayed request changes nothing the second time.
        await self.outbox.flush()
        await self.inflight.settle()
        await self.publish_changes()

    async def resolve(self, ref: dict[str, Any], provisional: str | None = None, at: int = 0
                      ) -> Resolution:
        """Apply a reference to the graph (``at``: the event's time). ``provisional``: the id a
        router already routed a first sighting under; if the graph knew these identifiers
        meanwhile as another customer, that provisional profile is merged into it."""
        pipeline = self.pipeline
        shared_before = self.shared_among(ref)
        resolution = self.graph.resolve(ref, at)
        self.undone(resolution.splits, set(resolution.shared) - shared_before)
        survivor = resolution.customer_id
        merged = list(resolution.merged)
        if (provisional is not None and provisional != survivor
                and not self.graph.members(provisional)):
            merged.append(provisional)
        for absorbed in merged:
            pipeline.metrics.identity_merges.inc()
            self.outbox.add(
                pipeline.settings.customer_topic, pipeline.customer_partition(absorbed),
                absorbed.encode(), envelope.pack({"k": envelope.MERGE, "absorbed": absorbed,
                                                  "survivor": survivor}))
        if resolution.new_identifiers or merged:
            for key in self.graph.members(survivor):
                pipeline.serving.link(key, survivor)
        return resolution

    async def split(self, event: dict[str, Any]) -> None:
        """A split request: the merges it names undone (``IdentityGraph.split``)."""
        ref = event.get("customer")
        shared_before = self.shared_among(ref)
        splits = self.graph.split(ref, int(event["event_time"]), request=event.get("event_id"))
        self.undone(splits, self.shared_among(ref) - shared_before)

    def shared_among(self, ref: dict[str, Any] | None) -> set[str]:
        return {key for key in identifier_keys(ref) if self.graph.shared.is_shared(key)}

    def undone(self, splits: list[Split], marked: set[str]) -> None:
        """Merges the graph undid go to the absorbed customers' partitions (``split``), which
        restore them and take them out of their survivors; identifiers marked shared just now
        leave the served index (they name nobody)."""
        pipeline = self.pipeline
        for key in marked:
            pipeline.metrics.shared_identifiers.inc()
            pipeline.serving.unlink(key)
        for split in splits:
            pipeline.metrics.identity_splits.inc()
            self.outbox.add(
                pipeline.settings.customer_topic, pipeline.customer_partition(split.absorbed),
                split.absorbed.encode(), envelope.pack({"k": envelope.SPLIT,
                                                        "absorbed": split.absorbed,
                                                        "survivor": split.survivor}))
            for key in split.identifiers:
                pipeline.serving.link(key, split.absorbed)

    async def erase(self, event: dict[str, Any]) -> None:
        pipeline = self.pipeline
        keys = identifier_keys(event.get("customer"))
        customer_id = next((c for c in map(self.graph.lookup, keys) if c is not None), None)
        removed = self.graph.forget(customer_id) if customer_id is not None else []
        for key in removed:
            pipeline.serving.unlink(key)
        requested_at = int(event["event_time"])
        if customer_id is None:  # nobody to erase: acknowledge at once
            record = erasure_ack_record(event["event_id"], None, requested_at, 0)
            key = event["event_id"]
            self.outbox.add(pipeline.settings.erasure_ack_topic,
                            kafka.partition_of(key, pipeline.settings.partitions), key.encode(),
                            pipeline.codec.encode("erasure_ack", record))
            pipeline.metrics.erasures.inc()
            return
        self.outbox.add(
            pipeline.settings.customer_topic, pipeline.customer_partition(customer_id),
            customer_id.encode(),
            envelope.pack({"k": envelope.ERASE, "cid": customer_id,
                           "request": event["event_id"], "requested_at": requested_at,
                           "identifiers": len(removed)}))

    async def publish_changes(self) -> None:
        """Graph entries first (after the merge and erase messages were acked), then, once they
        are acked too, the replies: a router that has an answer finds the graph entries behind
        it on the broker for its replica (``GraphReplica``)."""
        pipeline = self.pipeline
        topic = pipeline.settings.identity_graph_topic
        by_partition: dict[int, list[tuple[bytes | None, bytes | None, Any]]] = {}
        for key, value in self.store.take_changes().items():
            blob = None if value is None else orjson.dumps(value)
            by_partition.setdefault(kafka.partition_of(key, pipeline.settings.partitions), []
                                    ).append((key.encode(), blob, []))
        sent = [future for partition, messages in by_partition.items()
                for future, _ in await kafka.send_closed(pipeline.producer, topic, partition,
                                                         messages)]
        if sent:
            await asyncio.gather(*sent)
        replies, self.replies = self.replies, []
        for reply in replies:
            self.outbox.add(pipeline.settings.identity_reply_topic, 0, None, envelope.pack(reply))
        await self.outbox.flush()
