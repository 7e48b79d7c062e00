"""Customer: the per-customer state machine, a batch at a time.

Each assigned partition of ``nextbest.customer-events`` is a
:class:`nextbest.driver.CustomerPartition` - profiles, agenda, event-time clock - whose
profiles are restored from the changelog (``streams/state.py``) before its first record. Records
are processed in batches: decisions, verdicts and outcomes are produced without waiting, and at
each checkpoint the stage waits for all their acks, then writes every profile changed since the
last one to the changelog, then commits the offsets. A crash in between loses nothing: the
replay steps the same events again, the profiles' event ids keep them from counting twice, and
the partition's sent ledger (``streams/sent_ledger.py``) keeps their decisions from going out
twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from aiokafka import ConsumerRecord, TopicPartition

from nextbest.decisions.policies.support_triage import conversation_outcome, is_repeat_contact
from nextbest.driver import CustomerPartition, Redirect
from nextbest.engine import StepResult
from nextbest.event_order import order_key
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS
from nextbest.streams import envelope
from nextbest.streams.clock import PartitionClock
from nextbest.streams.deadletter import send_deadletter
from nextbest.streams.privacy import erased_stores, erasure_ack_record
from nextbest.streams.refill import put_views
from nextbest.streams.reorder import RoutersMerge
from nextbest.streams.sent_ledger import recently_sent
from nextbest.streams.stage import Batch, Stage, StateWrite
from nextbest.streams.state import PARTITION_KEY_PREFIX, PartitionProfiles, restore

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline
    from nextbest.streams.stages.identity import GraphReplica
    from nextbest.streams.stages.lessons import LessonReplica

logger = logging.getLogger(__name__)

BUDGET_KEY = f"{PARTITION_KEY_PREFIX}incentive-budget"
"""The partition's pot of the incentive budget, in its changelog."""
SERIALISED_PER_SLICE = 200
"""Profiles serialised for a checkpoint between two chances for the other stages to run."""
WALL_CLOCK = "wall-clock"
"""The source of a live worker's wall-clock ticks among a partition's routers."""
_T = TypeVar("_T")


@dataclass
class Assigned:
    """One customer partition this worker owns."""

    customers: CustomerPartition
    profiles: PartitionProfiles
    sent: set[str] = field(default_factory=set)
    """Decision ids already on the decision topics' same partition."""
    budget_written: dict[str, float] = field(default_factory=dict)
    """The partition's incentive budget pot as last written to the changelog."""
    clock: PartitionClock = field(default_factory=PartitionClock)
    """Event time the partition wakes its customers by (``streams/clock.py``)."""
    order: RoutersMerge[tuple[ConsumerRecord[bytes, bytes], dict[str, Any]]] = field(
        default_factory=lambda: RoutersMerge(max_wait=1.0))
    """Events waiting for earlier ones other workers' routers are still sending."""

    def first_held(self) -> int | None:
        """Offset of the earliest record still held: nothing from it on may be committed."""
        return min((record.offset for record, _ in self.order.items()), default=None)


class CustomerStage(Stage):
    name = "customer"

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline.settings, [pipeline.settings.customer_topic],
                         pipeline.producer)
        self.pipeline = pipeline
        self.engine = pipeline.engine
        self.partitions: dict[int, Assigned] = {}
        self._ticked = time.monotonic()
        self.step_seconds = pipeline.metrics.step_seconds
        self.engine_seconds = 0.0
        """CPU time in the engine since it was last counted (``nextbest_engine_cpu_seconds``)."""
        self.lessons: LessonReplica | None = None
        """The worker's replica of the lesson topic: told which partitions this stage steps."""
        self.graph: GraphReplica | None = None
        """The worker's replica of the identity graph: the identifier links of partitions
        taken over are written to Redis again from it (``refill.put_views``)."""

    # --- partitions ---------------------------------------------------------------------------

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        settings = self.settings
        for tp in sorted(partitions):
            profiles = await restore(settings,
                                     TopicPartition(settings.customer_state_topic, tp.partition))
            sent = await recently_sent(settings, self.pipeline.codec, tp.partition)
            budget = self.engine.models.budget
            pot = profiles.records.get(BUDGET_KEY)
            if pot is not None:
                budget.restore_pot(tp.partition, orjson.loads(pot))
            self.partitions[tp.partition] = Assigned(
                CustomerPartition(self.engine, profiles), profiles, sent,
                budget.pot_state(tp.partition), PartitionClock(),
                RoutersMerge(max_wait=settings.customer_order_wait_seconds))
        if self.graph is not None:
            put_views(self.pipeline, self, self.graph, {tp.partition for tp in partitions})
        if self.lessons is not None:
            await self.lessons.own(tp.partition for tp in partitions)

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self.partitions.pop(tp.partition, None)
        if self.lessons is not None:
            await self.lessons.release(tp.partition for tp in partitions)

    # --- records ------------------------------------------------------------------------------

    async def process(self, batch: Batch) -> None:
        for tp, records in batch.items():
            part = self.partitions.get(tp.partition)
            if part is None:
                continue  # not (or no longer) ours
            for record in records:
                await self.pause()
                try:
                    await self.handle(part, tp.partition, record)
                except Exception as exc:
                    await self.failed(record, exc)
                finally:
                    self.share_lessons(tp.partition)
        self.count_engine_cpu()

    async def handle(self, part: Assigned, partition: int,
                     record: ConsumerRecord[bytes, bytes]) -> None:
        message = envelope.unpack(record.value)
        kind = message["k"]
        customers = part.customers
        if kind == envelope.EVENT:
            source, event = message.get("r", ""), message["e"]
            part.clock.see(source, int(message.get("w", event["event_time"])))
            if self.settings.customer_order_wait_seconds <= 0:
                await self.on_event(part, partition, message)  # as it arrives
                return
            part.order.add(source, order_key(message["f"], event), (record, message))
            await self.take_in_order(part, partition)
        elif kind == envelope.TICK:
            source, settled = message.get("r", ""), int(message.get("w", message["now"]))
            part.clock.see(source, settled)
            part.order.advance(source, settled)
            await self.take_in_order(part, partition)
            await self.wake_due(part, partition)
        elif kind == envelope.MERGE:
            survivor = message["survivor"]
            handed = self.in_engine(customers.merge_out, message["absorbed"], survivor)
            if handed is not None:
                self.pipeline.serving.drop_profile(message["absorbed"])
                await self.send_to(survivor, {"k": envelope.ABSORB, "survivor": survivor,
                                              "profile": handed})
        elif kind == envelope.ABSORB:
            result = self.in_engine(customers.absorb, message["survivor"], message["profile"])
            if isinstance(result, Redirect):  # the survivor was absorbed meanwhile: pass it on
                await self.send_to(result.survivor, {**message, "survivor": result.survivor})
            elif result is not None:
                await self.publish(part, partition, result, None)
        elif kind == envelope.ERASE:
            await self.on_erase(part, message)
        elif kind == envelope.SPLIT:  # a merge undone: the absorbed customer restored
            off = self.in_engine(customers.split_off, message["absorbed"])
            if off is not None:
                await self.publish(part, partition, off.result, None)
                await self.send_to(off.survivor, {"k": envelope.RELEASE, "survivor": off.survivor,
                                                  "profile": off.snapshot})
        elif kind == envelope.RELEASE:  # ...and what it brought taken out of the survivor
            released = self.in_engine(customers.release, message["survivor"], message["profile"])
            if isinstance(released, Redirect):
                await self.send_to(released.survivor, {**message, "survivor": released.survivor})
            elif released is not None:
                await self.publish(part, partition, released, None)

    async def take_in_order(self, part: Assigned, partition: int) -> None:
        """Step the held events whose turn has come (``Assigned.order``)."""
        for record, message in part.order.release():
            try:
                await self.on_event(part, partition, message)
            except Exception as exc:
                await self.failed(record, exc)
            await self.pause()

    async def failed(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        """A record the stage could not handle: to the dead-letter topic with the error (its
        batch neighbours go on)."""
        logger.exception("customer stage failed on %s[%s]@%s", record.topic, record.partition,
                         record.offset)
        self.inflight.add(await send_deadletter(
            self.pipeline, record, family="customer", reason="internal_error",
            detail=repr(exc), stage="customer"))

    def hears_other_routers(self) -> bool:
        """Whether more than one worker's router feeds this worker's partitions."""
        return any(part.order.routers > 1 for part in self.partitions.values())

    def committable(self) -> dict[TopicPartition, int]:
        offsets = super().committable()
        for tp, offset in offsets.items():
            part = self.partitions.get(tp.partition)
            first = part.first_held() if part is not None else None
            if first is not None and first < offset:
                offsets[tp] = first
        return offsets

    async def on_event(self, part: Assigned, partition: int, message: dict[str, Any]) -> None:
        customers = part.customers
        event = message["e"]
        # Whoever is due by the moment the routers had settled before this event is woken
        # first: everything routed before it has arrived (a replay wakes them as the event
        # before it passed, ``nextbest.driver.InProcess``).
        await self.wake_due(part, partition)
        started, cpu = time.perf_counter(), time.thread_time()
        stepped = customers.step(message["cid"], message["f"], event)
        self.step_seconds.observe(time.perf_counter() - started)
        self.engine_seconds += time.thread_time() - cpu
        if isinstance(stepped, Redirect):
            # Merged into another customer while this event was on its way: pass it on.
            message["cid"] = stepped.survivor
            await self.send_to(stepped.survivor, message)
            return
        if stepped is not None:
            if message["f"] == "support":
                self.count_support(stepped.profile, event)
            self.pipeline.serving.add_event(stepped.profile.customer_id, message["f"], event)
            await self.publish(part, partition, stepped, message.get("t0"))
        # Those this very step scheduled in the past.
        await self.wake_due(part, partition)

    async def wake_due(self, part: Assigned, partition: int) -> None:
        """Wake the partition's customers whose moment the settled event time has reached, one
        at a time: many may come due at once (event time held back for an event in flight), and
        the other stages get their turn between (``Stage.pause``)."""
        now = part.clock.settle()
        if not part.customers.any_due(now):
            return
        wakes = part.customers.waking(now)
        while True:
            result = self.in_engine(next, wakes, None)
            if result is None:
                return
            await self.publish(part, partition, result, None)
            await self.pause()

    def in_engine(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)``, its CPU time counted as the engine's."""
        started = time.thread_time()
        try:
            return call(*args)
        finally:
            self.engine_seconds += time.thread_time() - started

    def count_engine_cpu(self) -> None:
        """Count the engine's CPU time once per batch rather than once per event."""
        if self.engine_seconds:
            self.pipeline.metrics.engine_cpu.inc(self.engine_seconds)
            self.engine_seconds = 0.0

    async def on_erase(self, part: Assigned, message: dict[str, Any]) -> None:
        """Erasure: the profile, its Redis view and the models' per-customer state go; the
        request is acknowledged on the erasure-ack topic."""
        pipeline, customer_id = self.pipeline, message["cid"]
        if message.get("tombstone"):  # merged into an erased customer: the pointer goes too
            if part.customers.erase_tombstone(customer_id):
                pipeline.serving.drop_profile(customer_id)
            return
        erased = self.in_engine(part.customers.erase, customer_id)
        pipeline.serving.drop_profile(customer_id)
        for absorbed in erased.absorbed:
            await self.send_to(absorbed, {"k": envelope.ERASE, "cid": absorbed,
                                          "tombstone": True})
        stores = erased_stores(message["identifiers"], erased, len(erased.absorbed))
        record = erasure_ack_record(message["request"], customer_id, message["requested_at"],
                                    message["identifiers"], stores)
        self.inflight.add(await pipeline.producer.send(
            pipeline.settings.erasure_ack_topic, key=customer_id.encode(),
            value=pipeline.codec.encode("erasure_ack", record),
            partition=pipeline.customer_partition(customer_id)))
        pipeline.metrics.erasures.inc()

    def share_lessons(self, partition: int) -> None:
        """What the models learnt from this partition's last record, for every other worker
        (``streams/stages/lessons.py``); produced with the decisions, in the same batches."""
        lessons = self.engine.models.take_lessons()
        if not lessons:
            return
        topic, me = self.settings.lesson_topic, self.pipeline.instance
        for lesson in lessons:
            customer = lesson.get("c")
            self.outbox.add(topic, partition, customer.encode() if customer else None,
                            orjson.dumps({"w": me, **lesson}))

    async def send_to(self, customer_id: str, message: dict[str, Any]) -> None:
        pipeline = self.pipeline
        self.outbox.add(pipeline.settings.customer_topic, pipeline.customer_partition(customer_id),
                        customer_id.encode(), envelope.pack(message))

    # --- what a step produced -----------------------------------------------------------------

    async def publish_all(self, part: Assigned, partition: int, results: list[StepResult],
                          caused_at: int | None) -> None:
        for result in results:
            await self.publish(part, partition, result, caused_at)

    async def publish(self, part: Assigned, partition: int, result: StepResult,
                      caused_at: int | None) -> None:
        """Decisions to their topics (not twice: the sent ledger), every verdict to the
        decision log, closed windows to the outcomes topic, the profile to Redis."""
        pipeline, outbox, codec = self.pipeline, self.outbox, self.pipeline.codec
        settings, metrics = pipeline.settings, pipeline.metrics
        now_ms = int(time.time() * 1000)
        sent: Counter[str] = Counter()
        for decision in result.decisions:
            if decision.decision_id in part.sent:
                metrics.decisions_already_sent.inc()
                continue
            record = decision.to_record(created_at=now_ms)
            outbox.add(settings.decision_topic(decision.decision_type), partition,
                       decision.customer_id.encode(), codec.encode_decision(record))
            pipeline.serving.add_decision(decision.customer_id, record)
            sent[decision.decision_type] += 1
            if caused_at is not None:
                latency = max(0.0, now_ms / 1000 - caused_at / 1000)
                metrics.decision_latency.labels(decision.decision_type).observe(latency)
        for decision_type, count in sent.items():
            metrics.decisions.labels(decision_type).inc(count)
        for entry in result.logged:
            decision = entry.decision
            metrics.verdicts.labels(decision.decision_type, entry.status, entry.rule or "").inc()
            record = decision.to_record(created_at=now_ms, status=entry.status,
                                        suppressed_by=entry.rule)
            outbox.add(settings.decision_log_topic, partition, decision.customer_id.encode(),
                       codec.encode_decision(record))
            pipeline.serving.add_verdict(decision.customer_id, record, entry.text)
        for outcome in result.outcomes:
            metrics.outcomes.labels(outcome.decision_type, outcome.experiment_arm,
                                    "yes" if outcome.converted else "no").inc()
            metrics.outcome_revenue.labels(outcome.decision_type, outcome.experiment_arm).inc(
                max(0.0, outcome.revenue))
            outbox.add(settings.outcome_topic, partition, outcome.customer_id.encode(),
                       codec.encode("outcome", outcome.to_record()))
        pipeline.serving.put_profile(result.profile)

    def count_support(self, profile: CustomerProfile, event: dict[str, Any]) -> None:
        """Containment and repeat-contact counters (no customer data in the labels)."""
        metrics, conversation = self.pipeline.metrics, profile.conversation
        if conversation is None:
            return
        now = int(event["event_time"])
        if event["kind"] == "resolved":
            metrics.support_conversations.labels(conversation_outcome(conversation)).inc()
        elif conversation.opened_at == now and profile.support_contacts[-1:] == [now]:
            window = int(self.engine.settings.support_repeat_window_days * DAY_MS)
            repeat = is_repeat_contact(profile, now, window)
            metrics.support_contacts.labels("yes" if repeat else "no").inc()

    # --- time and checkpoints -----------------------------------------------------------------

    async def idle(self) -> None:
        """Event time seen before a quiet spell settles; live workers also move every
        partition's clock with the wall clock."""
        tick = (self.settings.wall_clock_ticks
                and time.monotonic() - self._ticked >= self.settings.tick_interval_seconds)
        if tick:
            self._ticked = time.monotonic()
        now = int(time.time() * 1000)
        for partition, part in self.partitions.items():
            if part.order.held:  # waited long enough, or a router went quiet
                await self.take_in_order(part, partition)
            if tick:
                part.clock.see(WALL_CLOCK, now)
            if part.clock.settle() > part.customers.clock:
                await self.wake_due(part, partition)
                self.share_lessons(partition)
        self.count_engine_cpu()

    async def changes(self) -> list[StateWrite]:
        topic = self.settings.customer_state_topic
        writes: list[StateWrite] = []
        budget = self.engine.models.budget
        for partition, part in self.partitions.items():
            pot = budget.pot_state(partition)
            if pot != part.budget_written:
                writes.append((topic, partition, BUDGET_KEY.encode(), orjson.dumps(pot)))
                part.budget_written = pot
            for n, (customer_id, blob) in enumerate(part.profiles.changes(), start=1):
                writes.append((topic, partition, customer_id.encode(), blob))
                if n % SERIALISED_PER_SLICE == 0:
                    await asyncio.sleep(0)  # a few ms of work at a time: see Stage.pause
        return writes
