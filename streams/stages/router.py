"""The router: decode, validate, dead-letter and resolve identity on the way in, then straight to
the customer's partition of ``nextbest.customer-events``.

Nothing is dropped: a message is either routed (events), left to every worker's catalog replica
(catalog), or dead-lettered with its original bytes and headers.

An event whose identifiers all belong to one known customer is routed from the local replica of
the identity graph at once. So is a customer seen for the first time (no identifier known): new
ids are derived from the strongest identifier, so the router routes under the id the writer will
record and tells the writer. Identifiers the writer marked shared are left out first (an event
naming nothing else is dead-lettered as ``shared_identifier_only``). Any other event - a link
between identifiers, a merge, an erasure or split request - asks the identity writer (see
``streams/stages/identity.py``) and waits for its reply; later
events of the same input partition wait behind it, so one customer's events reach their
partition in the order they came. Offsets are committed only up to the first event still
waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord, TopicPartition

from nextbest.codec import CodecError, DecodedEvent, RegistryUnavailable
from nextbest.identity.graph import SPLIT_REQUESTED, identifier_keys, new_customer_id
from nextbest.streams import envelope, kafka
from nextbest.streams.clock import Watermark
from nextbest.streams.deadletter import send_deadletter
from nextbest.streams.stage import Batch, Stage, in_time_order
from nextbest.streams.stages.identity import GraphReplica

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

logger = logging.getLogger(__name__)

EVENT_FAMILIES = ("clickstream", "purchase", "support", "review", "identity", "fulfilment")
IDENTITY_REQUESTS = {"erasure_requested": "erase", SPLIT_REQUESTED: "split"}
"""Identity event kinds the writer carries out (never routed), and their request's key."""


@dataclass(slots=True)
class Held:
    """An event waiting for the identity writer, or behind one that is."""

    offset: int
    routed: dict[str, Any]
    customer_id: str | None = None
    request_only: bool = False
    """An erasure or split request: the writer carries it out, nothing is routed."""
    answered: bool = False
    record: ConsumerRecord[bytes, bytes] | None = None
    """The input record, dead-lettered should the writer resolve nobody (``reason``)."""
    reason: str | None = None


ANNOUNCE_SECONDS = 0.1
"""How long first sightings wait to be announced to the identity writer together. Nothing
waits for an announcement (the event is routed at once), and every announcement sets off a
chain of requests - the writer's fetch, its graph changes, every replica's fetch - so at load
one per fetched batch cost more than the routing itself. A request that does wait for the
writer sends the announcements before it first, and so does a checkpoint."""


class Router(Stage):
    name = "router"

    def __init__(self, pipeline: Pipeline, replica: GraphReplica) -> None:
        settings = pipeline.settings
        self.family_of = {settings.input_topic(f): f for f in (*EVENT_FAMILIES, "catalog")}
        super().__init__(settings, list(self.family_of), pipeline.producer)
        self.pipeline = pipeline
        self.replica = replica
        self.held: dict[TopicPartition, deque[Held]] = {}
        self.asked: dict[str, tuple[TopicPartition, Held]] = {}
        self.announced: list[dict[str, Any]] = []
        self._announced_at = time.monotonic()
        self.provisional: dict[str, str] = {}
        """Identifier -> customer of first sightings routed before the replica has them."""
        self._prefix = uuid.uuid4().hex[:12]
        self._requests = 0
        self.watermark = Watermark(pipeline.engine.settings.agenda_bucket_ms)
        self.source = pipeline.instance[:8]
        """This router among those feeding a customer partition (its clock goes by the
        slowest: ``streams/clock.py``)."""
        self._floor: int | None = None
        self._floor_stale = False
        self._forced_tick = time.monotonic()
        self._replies = kafka.consumer(settings, group=None, quiet=True)

    # --- consuming ----------------------------------------------------------------------------

    async def process(self, batch: Batch) -> None:
        accepted: Counter[str] = Counter()
        for tp, record in in_time_order(batch):
            family = self.family_of.get(tp.topic, "unknown")
            await self.pause()
            if await self.take(tp, family, record):
                accepted[family] += 1
        await self.announce(due_only=True)
        for family, count in accepted.items():
            self.pipeline.metrics.events_in.labels(family).inc(count)
        if self.watermark.due():
            await self.broadcast_tick(self.watermark.time)

    async def take(self, tp: TopicPartition, family: str,
                   record: ConsumerRecord[bytes, bytes]) -> bool:
        """Route, hold or dead-letter one record; True when it was a valid event."""
        try:
            decoded = await self.decode(record.value, family)
        except CodecError as exc:
            await self.reject(record, family, exc.reason, str(exc))
            return False
        except Exception as exc:  # never let one message stop the stream
            logger.exception("router failed on %s[%s]@%s", record.topic, record.partition,
                             record.offset)
            await self.reject(record, family, "internal_error", repr(exc))
            return False
        if family == "catalog":
            return True  # every worker's catalog replica applies it
        event = decoded.event
        routed = {"k": envelope.EVENT, "f": decoded.family, "e": event, "t0": record.timestamp}
        kind = str(event.get("kind")) if decoded.family == "identity" else ""
        request = IDENTITY_REQUESTS.get(kind)
        if request is not None:
            held = Held(record.offset, routed, request_only=True)
            self.hold(tp, held)
            await self.ask(tp, held, {request: event})
            return True
        named = identifier_keys(event.get("customer"))
        if not named:
            await self.reject(record, family, "no_customer_identifier",
                              "the event names no customer")
            return False
        keys = [key for key in named if not self.replica.is_shared(key)]
        if not keys:
            kinds = ", ".join(key.partition(":")[0] for key in named)
            await self.reject(record, family, "shared_identifier_only",
                              f"the event names only identifiers shared by several customers "
                              f"({kinds})")
            return False
        customer_id = self.customer_of(keys)
        queue = self.held.get(tp)
        if not queue:
            if customer_id is not None:
                await self.route(routed, customer_id)
                return True
            if self.all_new(keys):
                await self.route_new(routed, keys, event["customer"])
                return True
        held = Held(record.offset, routed, customer_id, record=record)
        self.hold(tp, held)
        if customer_id is None:
            await self.ask(tp, held, {"ref": event["customer"], "at": event["event_time"]})
        else:
            held.answered = True
        return True

    async def decode(self, value: bytes | None, family: str) -> DecodedEvent:
        """Decode; while an external schema registry is unreachable, wait and retry the same
        message (an outage is not the message's fault, so it must not be dead-lettered)."""
        delay = 0.5
        while True:
            try:
                return self.pipeline.codec.decode(value, family_hint=family)
            except RegistryUnavailable as exc:
                logger.warning("schema registry unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def reject(self, record: ConsumerRecord[bytes, bytes], family: str, reason: str,
                     detail: str) -> None:
        self.inflight.add(await send_deadletter(self.pipeline, record, family=family,
                                                reason=reason, detail=detail, stage="router"))

    # --- routing ------------------------------------------------------------------------------

    async def route(self, routed: dict[str, Any], customer_id: str) -> None:
        pipeline = self.pipeline
        routed["cid"] = customer_id
        self.watermark.advance(int(routed["e"]["event_time"]))
        routed["r"], routed["w"] = self.source, self.settled_time()
        self.outbox.add(pipeline.settings.customer_topic,
                        pipeline.customer_partition(customer_id), customer_id.encode(),
                        envelope.pack(routed))

    def settled_time(self) -> int:
        """Event time before which this router has routed everything it took: the latest it
        routed, held back to just before the oldest event still waiting for the identity
        writer. A customer partition wakes by it (``streams/clock.py``)."""
        if self._floor_stale:
            heads = [int(queue[0].routed["e"]["event_time"])
                     for queue in self.held.values() if queue]
            self._floor = min(heads) - 1 if heads else None
            self._floor_stale = False
        latest = self.watermark.time
        return latest if self._floor is None else min(latest, self._floor)

    async def broadcast_tick(self, now: int) -> None:
        """Event time to every customer partition, so quiet ones still sweep their agenda
        (after the events routed before it: same outbox, same order)."""
        settings = self.pipeline.settings
        tick = envelope.pack({"k": envelope.TICK, "now": now, "r": self.source,
                              "w": self.settled_time()})
        for partition in range(settings.partitions):
            self.outbox.add(settings.customer_topic, partition, None, tick)

    async def idle(self) -> None:
        await self.announce(due_only=True)
        interval = self.settings.tick_interval_seconds
        if time.monotonic() - self._forced_tick >= interval:
            self._forced_tick = time.monotonic()
            # First sightings the replica has learnt from the writer need no entry of ours.
            lookup, shared = self.replica.lookup, self.replica.is_shared
            self.provisional = {k: c for k, c in self.provisional.items()
                                if lookup(k) is None and not shared(k)}
            if self.watermark.due(force=True):
                await self.broadcast_tick(self.watermark.time)

    def hold(self, tp: TopicPartition, held: Held) -> None:
        queue = self.held.get(tp)
        if queue is None:
            queue = self.held[tp] = deque()
        if not queue:
            self._lower_floor(held)
        queue.append(held)

    def _new_head(self, taken: Held, queue: deque[Held]) -> None:
        """Keep the floor of ``settled_time`` as the heads change without a pass over every
        queue per event: only taking the head that set it raises it."""
        if int(taken.routed["e"]["event_time"]) - 1 == self._floor:
            self._floor_stale = True
        elif queue:
            self._lower_floor(queue[0])

    def _lower_floor(self, head: Held) -> None:
        if not self._floor_stale:
            below = int(head.routed["e"]["event_time"]) - 1
            self._floor = below if self._floor is None else min(self._floor, below)

    async def drain(self, tp: TopicPartition) -> None:
        """Route the events at the head of ``tp``'s queue whose customer is known now."""
        queue = self.held.get(tp)
        while queue:
            head = queue[0]
            if not head.answered:
                return
            queue.popleft()
            self._new_head(head, queue)
            if head.request_only:
                continue
            if head.customer_id is not None:
                await self.route(head.routed, head.customer_id)
            elif head.record is not None:
                await self.reject(head.record, head.routed["f"], head.reason or "unresolved",
                                  "the identity writer resolved the event to nobody")

    # --- identity ----------------------------------------------------------------------------

    def customer_of(self, keys: list[str]) -> str | None:
        """The one customer all ``keys`` belong to, by the replica or this router's own first
        sightings not yet in it; None when one is unknown or they disagree."""
        found = [self.provisional.get(k) or self.replica.lookup(k) for k in keys]
        first = found[0]
        return first if first is not None and all(f == first for f in found) else None

    def all_new(self, keys: list[str]) -> bool:
        return all(self.provisional.get(k) is None and self.replica.lookup(k) is None
                   for k in keys)

    async def route_new(self, routed: dict[str, Any], keys: list[str], ref: dict[str, Any]
                        ) -> None:
        """A customer seen for the first time: route at once under the id the writer gives a
        new customer (derived from the strongest identifier, so every router derives the same),
        and tell the writer. Should the graph have learnt these identifiers meanwhile under
        another customer, the writer merges this provisional one into it."""
        customer_id = new_customer_id(keys[0])
        for key in keys:
            self.provisional[key] = customer_id
        await self.route(routed, customer_id)
        self.announced.append({"ref": ref, "provisional": customer_id,
                               "at": routed["e"]["event_time"]})

    async def announce(self, *, due_only: bool = False) -> None:
        """First sightings go to the writer together, one request every ``ANNOUNCE_SECONDS``
        (``due_only``) or now (it sends no reply)."""
        if due_only and time.monotonic() - self._announced_at < ANNOUNCE_SECONDS:
            return
        self._announced_at = time.monotonic()
        if self.announced:
            refs, self.announced = self.announced, []
            await self.ask(None, None, {"refs": refs})

    async def begin_checkpoint(self) -> None:
        await self.announce()  # committed input is announced input
        await super().begin_checkpoint()


    async def ask(self, tp: TopicPartition | None, held: Held | None, request: dict[str, Any]
                  ) -> None:
        """A request to the identity writer; with ``held``, that event waits for the reply.
        First sightings announced before go first, so the writer sees them in order."""
        if "refs" not in request:
            await self.announce()
        self._requests += 1
        rid = f"{self._prefix}:{self._requests}"
        if tp is not None and held is not None:
            self.asked[rid] = (tp, held)
        self.outbox.add(self.settings.identity_request_topic, 0, None,
                        envelope.pack({"rid": rid, **request}))

    async def start(self) -> None:
        await super().start()
        client = self._replies
        await client.start()
        tps = await kafka.topic_partitions(client, self.settings.identity_reply_topic)
        client.assign(tps)
        await client.seek_to_end(*tps)
        for tp in tps:  # resolve the position now: replies to come start after it
            await client.position(tp)

    async def answers(self) -> None:
        """Replies of the identity writer: route what waited for them."""
        while True:
            batch = await self._replies.getmany(timeout_ms=1000)
            replies = [envelope.unpack(r.value) for rs in batch.values() for r in rs if r.value]
            mine = [reply for reply in replies if reply["rid"] in self.asked]
            if not mine:
                continue
            async with self.lock:
                touched = set()
                for reply in mine:
                    found = self.asked.pop(reply["rid"], None)
                    if found is None:
                        continue  # its partition moved to another worker meanwhile
                    tp, held = found
                    held.customer_id = reply["cid"]
                    held.reason = reply.get("reason")
                    held.answered = True
                    touched.add(tp)
                for tp in touched:
                    await self.drain(tp)
                await self.outbox.flush()

    def committable(self) -> dict[TopicPartition, int]:
        offsets = dict(self.positions)
        for tp, queue in self.held.items():
            if queue and tp in offsets:
                offsets[tp] = min(offsets[tp], queue[0].offset)
        return offsets

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self.held.pop(tp, None)
        self._floor_stale = True
        self.asked = {rid: (tp, h) for rid, (tp, h) in self.asked.items()
                      if tp not in partitions}

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self._replies.stop()
