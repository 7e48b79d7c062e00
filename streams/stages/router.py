"""The router: decode, validate, dead-letter and resolve identity on the way in, then straight to
the customer's partition of ``nextbest.customer-events``.

Nothing is dropped: a message is either routed (events), left to every worker's catalog replica
(catalog), or dead-lettered with its original bytes and headers.

An event whose identifiers all belong to one known customer is routed from the local replica of
the identity graph at once. So is a customer seen for the first time (no identifier known): new
ids are derived from the strongest identifier, so the router routes under the id the writer will
record and tells the writer. So is a new identifier seen with one known customer's (a new device
of a signed-in customer), where the writer's answer can only be that customer: the router tells
the writer, as for a first sighting. Identifiers the writer marked shared are left out first (an
event naming nothing else is dead-lettered as ``shared_identifier_only``). Any other event - a
merge of customers, a strong identity new to a known weak identifier (the writer counts such
sightings: ``identity/shared.py``), an erasure or split request - asks the identity writer (see
``streams/stages/identity.py``) and waits for its reply. Later events of the same input
partition that name any identifier or customer of a waiting event wait behind it, so one
customer's events reach their partition in the order they came; the others go on. Offsets are
committed only up to the first event still waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord, TopicPartition

from nextbest.codec import CodecError, DecodedEvent, RegistryUnavailable
from nextbest.event_order import OrderKey, order_key
from nextbest.identity.graph import SPLIT_REQUESTED, identifier_keys, new_customer_id
from nextbest.identity.shared import is_strong
from nextbest.streams import envelope, kafka
from nextbest.streams.clock import Watermark
from nextbest.streams.deadletter import send_deadletter
from nextbest.streams.reorder import EventTimeMerge
from nextbest.streams.stage import Batch, Stage
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
    key: OrderKey
    """Its place in event-time order: events of other partitions after it wait for it."""
    customer_id: str | None = None
    request_only: bool = False
    """An erasure or split request: the writer carries it out, nothing is routed."""
    answered: bool = False
    record: ConsumerRecord[bytes, bytes] | None = None
    """The input record, dead-lettered should the writer resolve nobody (``reason``)."""
    reason: str | None = None
    names: tuple[str, ...] = ()
    """Its identifiers and the customers they belong to: later events of its partition naming
    any of them wait behind it."""
    since: float = 0.0
    """When it was held (monotonic seconds)."""


class HeldQueue(deque[Held]):
    """One input partition's waiting events, in order, and how many of them name each
    identifier or customer."""

    def __init__(self) -> None:
        super().__init__()
        self.named: Counter[str] = Counter()

    def add(self, held: Held) -> None:
        self.append(held)
        self.named.update(held.names)

    def take(self) -> Held:
        held = self.popleft()
        named = self.named
        for name in held.names:
            named[name] -= 1
            if not named[name]:
                del named[name]
        return held

    def blocks(self, names: list[str]) -> bool:
        """Whether an event naming ``names`` must wait behind these."""
        named = self.named
        return any(name in named for name in names)


ANNOUNCE_SECONDS = 0.1
"""How long first sightings wait to be announced to the identity writer together. Nothing
waits for an announcement (the event is routed at once), and every announcement sets off a
chain of requests - the writer's fetch, its graph changes, every replica's fetch - so at load
one per fetched batch cost more than the routing itself. A request that does wait for the
writer sends the announcements before it first, and so does a checkpoint."""

HELD_PER_PARTITION = 5_000
"""Events of one input partition the merge may hold (that partition far ahead of another in
event time) before its fetching stops, until half have been taken."""

class Router(Stage):
    name = "router"

    def __init__(self, pipeline: Pipeline, replica: GraphReplica) -> None:
        settings = pipeline.settings
        self.family_of = {settings.input_topic(f): f for f in (*EVENT_FAMILIES, "catalog")}
        super().__init__(settings, list(self.family_of), pipeline.producer)
        self.pipeline = pipeline
        self.replica = replica
        self.held: dict[TopicPartition, HeldQueue] = {}
        self.asked: dict[str, tuple[TopicPartition, Held]] = {}
        self.announced: list[dict[str, Any]] = []
        self._announced_at = time.monotonic()
        self.provisional: dict[str, str] = {}
        """Identifier -> customer of first sightings and links routed, and of the writer's
        answers, until the replica applies the identifier's next entry."""
        replica.changed = self.forget_provisional
        self._prefix = uuid.uuid4().hex[:12]
        self._requests = 0
        self.watermark = Watermark(pipeline.engine.settings.agenda_bucket_ms)
        self.source = pipeline.instance[:8]
        """This router among those feeding a customer partition (its clock goes by the
        slowest: ``streams/clock.py``)."""
        self._floor: int | None = None
        self._floor_stale = False
        self._forced_tick = time.monotonic()
        self._progress_at, self._progress_sent = time.monotonic(), 0
        self.shares_partitions: Callable[[], bool] = lambda: False
        """Whether other workers' routers feed the customer partitions too (then this one
        tells them how far it has routed every ``progress_tick_seconds``)."""
        self._replies = kafka.consumer(settings, group=None, quiet=True)
        self.merge: EventTimeMerge[TopicPartition, tuple[ConsumerRecord[bytes, bytes],
                                                         DecodedEvent, OrderKey]] = EventTimeMerge(
            max_wait=settings.reorder_max_wait_seconds,
            max_wait_before=settings.identity_order_wait_seconds)
        """Events decoded and waiting to be taken in event-time order."""
        self._ordered = {topic for topic, family in self.family_of.items()
                         if family != "catalog"}
        """Topics whose unread records hold back later events of the others."""
        self._paused: set[TopicPartition] = set()
        self._accepted: Counter[str] = Counter()
        self._holds = 0
        """Events held for the identity writer so far."""

    # --- consuming ----------------------------------------------------------------------------

    async def process(self, batch: Batch) -> None:
        """Decode (dead-lettering what fails), hold in the merge, take what it releases."""
        merge = self.merge
        for tp, records in batch.items():
            family = self.family_of.get(tp.topic, "unknown")
            for record in records:
                await self.pause()
                decoded = await self.decoded(record, family)
                if decoded is None:
                    continue
                if family == "catalog":  # every worker's catalog replica applies those
                    self._accepted[family] += 1
                else:
                    key = order_key(decoded.family, decoded.event)
                    merge.add(tp, key, (record, decoded, key))
        await self.release()

    async def release(self) -> None:
        """Take the events the merge lets go (``streams/reorder.py``): in event-time order
        while some input partition still has records on the broker not fetched yet, or an
        earlier event waits for the identity writer."""
        unread = kafka.unread(self.consumer, self._ordered)
        again = True
        while again:
            again = False
            waiting = ([queue[0].key for queue in self.held.values() if queue]
                       if self.settings.identity_order_wait_seconds > 0 else [])
            holds = self._holds
            for tp, (record, decoded, key) in self.merge.release(
                    unread, before=min(waiting) if waiting else None):
                await self.pause()
                if await self.take(tp, record, decoded, key):
                    self._accepted[decoded.family] += 1
                if self._holds != holds and self.settings.identity_order_wait_seconds > 0:
                    again = True  # an event now waits for the writer: the others after it too
                    break
        accepted, self._accepted = self._accepted, Counter()
        for family, count in accepted.items():
            self.pipeline.metrics.events_in.labels(family).inc(count)
        self._hold_back_fetching()
        await self.announce(due_only=True)
        if self.watermark.due():
            await self.broadcast_tick(self.watermark.time)

    def _hold_back_fetching(self) -> None:
        """Stop fetching partitions with ``HELD_PER_PARTITION`` events waiting in the merge
        (for a partition far behind) until half have gone."""
        consumer, merge = self.consumer, self.merge
        for tp in consumer.assignment():
            held = merge.count(tp)
            if held >= HELD_PER_PARTITION and tp not in self._paused:
                consumer.pause(tp)
                self._paused.add(tp)
            elif held < HELD_PER_PARTITION // 2 and tp in self._paused:
                consumer.resume(tp)
                self._paused.discard(tp)

    async def decoded(self, record: ConsumerRecord[bytes, bytes], family: str
                      ) -> DecodedEvent | None:
        """The record decoded, or None once it is dead-lettered."""
        try:
            return await self.decode(record.value, family)
        except CodecError as exc:
            await self.reject(record, family, exc.reason, str(exc))
        except Exception as exc:  # never let one message stop the stream
            logger.exception("router failed on %s[%s]@%s", record.topic, record.partition,
                             record.offset)
            await self.reject(record, family, "internal_error", repr(exc))
        return None

    async def take(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes],
                   decoded: DecodedEvent, key: OrderKey) -> bool:
        """Route, hold or dead-letter one decoded event; True unless dead-lettered."""
        family = decoded.family
        event = decoded.event
        routed = {"k": envelope.EVENT, "f": family, "e": event, "t0": record.timestamp}
        kind = str(event.get("kind")) if family == "identity" else ""
        request = IDENTITY_REQUESTS.get(kind)
        if request is not None:
            named = identifier_keys(event.get("customer"))
            customers = [c for c in self.customers_of(named) if c is not None] if named else []
            held = Held(record.offset, routed, key, request_only=True,
                        names=tuple(dict.fromkeys([*named, *customers])))
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
        found = self.customers_of(keys)
        customer_id = found[0] if found[0] is not None and found.count(found[0]) == len(
            found) else None
        names = [*keys, *(c for c in found if c is not None)]
        queue = self.held.get(tp)
        if not queue or (self.settings.identity_order_wait_seconds <= 0
                         and not queue.blocks(names)):
            # Nothing of this customer waits before it (with identity_order_wait_seconds set,
            # nothing overtakes: a backlog is routed as its replay steps it).
            if customer_id is not None:
                await self.route(routed, customer_id)
                return True
            if not any(found):
                await self.route_new(routed, keys, event["customer"])
                return True
            linked = self.linked_to(keys, found)
            if linked is not None:
                await self.route_link(routed, keys, found, linked, event["customer"])
                return True
        held = Held(record.offset, routed, key, customer_id, record=record,
                    names=tuple(dict.fromkeys(names)))
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
        # Settled before this event: its customer partition wakes by it before the step.
        routed["r"], routed["w"] = self.source, self.settled_time()
        self.watermark.advance(int(routed["e"]["event_time"]))
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
        if self.merge.held:
            await self.release()  # a partition caught up, or an event waited long enough
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
        await self.tell_progress()

    async def tell_progress(self) -> None:
        """With other routers feeding the same customer partitions and their events held in
        order there, a tick every ``progress_tick_seconds`` once this one has routed further:
        their events that wait for this router's (``RoutersMerge``) wait no longer than
        that."""
        now = time.monotonic()
        if now - self._progress_at < self.settings.progress_tick_seconds:
            return
        self._progress_at = now
        settled = self.settled_time()
        if (self.settings.customer_order_wait_seconds > 0 and settled > self._progress_sent
                and self.shares_partitions()):
            self._progress_sent = settled
            await self.broadcast_tick(self.watermark.time)

    def hold(self, tp: TopicPartition, held: Held) -> None:
        self._holds += 1
        held.since = time.monotonic()
        queue = self.held.get(tp)
        if queue is None:
            queue = self.held[tp] = HeldQueue()
        if not queue:
            self._lower_floor(held)
        queue.add(held)

    def _new_head(self, taken: Held, queue: HeldQueue) -> None:
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
            queue.take()
            self._new_head(head, queue)
            self.pipeline.metrics.identity_wait.observe(time.monotonic() - head.since)
            if head.request_only:
                continue
            if head.customer_id is not None:
                await self.route(head.routed, head.customer_id)
            elif head.record is not None:
                await self.reject(head.record, head.routed["f"], head.reason or "unresolved",
                                  "the identity writer resolved the event to nobody")

    # --- identity ----------------------------------------------------------------------------

    def customers_of(self, keys: list[str]) -> list[str | None]:
        """The customer each of ``keys`` belongs to, by this router's own first sightings and
        links not yet in the replica, else the replica; None for one unknown."""
        provisional, lookup = self.provisional, self.replica.lookup
        return [provisional.get(k) or lookup(k) for k in keys]

    def linked_to(self, keys: list[str], found: list[str | None]) -> str | None:
        """The customer an event that names new identifiers besides one known customer's
        resolves to, where the writer could answer nothing else: it links them to that
        customer (``IdentityGraph.resolve``). None where only the writer can tell: the known
        identifiers disagree (a merge), a new one was seen before (its sightings count), or a
        known weak identifier comes with a strong identity (the writer counts that sighting,
        and a weak identifier seen with too many is marked shared, its merges undone)."""
        known = {customer for customer in found if customer is not None}
        if len(known) != 1:
            return None
        strong = any(map(is_strong, keys))
        for key, customer in zip(keys, found, strict=True):
            if customer is None:
                if self.replica.sighted(key):
                    return None
            elif strong and not is_strong(key):
                return None
        return known.pop()

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

    async def route_link(self, routed: dict[str, Any], keys: list[str],
                         found: list[str | None], customer_id: str, ref: dict[str, Any]
                         ) -> None:
        """New identifiers with one known customer's (``linked_to``): routed to that customer
        at once, and the link told to the writer with the first sightings. Should another
        router have linked one of them to someone else meanwhile, the writer merges the two."""
        for key, customer in zip(keys, found, strict=True):
            if customer is None:
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
                    self.remember(held, reply.get("shared", []))
                    held.reason = reply.get("reason")
                    held.answered = True
                    touched.add(tp)
                await self.resume(touched)
                await self.outbox.flush()

    def forget_provisional(self, key: str) -> None:
        """The replica has a newer entry for ``key`` than what this router knew of it."""
        self.provisional.pop(key, None)

    def remember(self, held: Held, shared: list[str]) -> None:
        """The writer's answer for the identifiers of an event that waited for it, until the
        replica has them: the next events naming them need not ask again."""
        provisional = self.provisional
        for key in shared:  # marked shared, maybe by this very answer
            owner = provisional.pop(key, None) or self.replica.lookup(key)
            if owner is not None and not self.replica.is_shared(key):
                # Just marked: the merges it linked were undone, and what its customer held
                # may belong to others again. The replica will tell.
                self.provisional = provisional = {
                    k: c for k, c in provisional.items() if c != owner}
        if held.request_only:  # an erasure or split: what its customers held may have moved
            named = set(held.names)
            self.provisional = {k: c for k, c in provisional.items()
                                if k not in named and c not in named}
            return
        if held.customer_id is None:
            return
        for key in identifier_keys(held.routed["e"].get("customer")):
            if key not in shared and not self.replica.is_shared(key):
                provisional[key] = held.customer_id

    async def resume(self, partitions: set[TopicPartition]) -> None:
        """The writer answered events held on ``partitions``: route what it let through, then
        what waited in the merge behind them."""
        for tp in partitions:
            await self.drain(tp)
        await self.release()

    def committable(self) -> dict[TopicPartition, int]:
        """Up to the first event still waiting, in the merge or for the identity writer."""
        offsets = dict(self.positions)
        for tp, queue in self.held.items():
            if queue and tp in offsets:
                offsets[tp] = min(offsets[tp], queue[0].offset)
        for tp in offsets:
            first = self.merge.first(tp)
            if first is not None:
                offsets[tp] = min(offsets[tp], first[0].offset)
        return offsets

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        self.merge.drop(partitions)
        self._paused -= partitions
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
