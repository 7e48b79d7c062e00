"""Customer: the per-customer state machine - profile table, engine step, decisions, Redis view.

Each partition keeps its own event-time clock (the highest event time it has seen, pushed on by
wall-clock ticks when live) and its own agenda of customers to wake; when the clock passes an
agenda bucket, those customers are woken (win-back, cart reminder).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import orjson
from mode.types.signals import BaseSignalT

from nextbest.agenda import Agenda
from nextbest.decisions.policies.support_triage import conversation_outcome, is_repeat_contact
from nextbest.decisions.record import Decision
from nextbest.engine import StepResult
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS
from streams import envelope
from streams.privacy import send_erasure_ack
from streams.sent_ledger import recently_sent
from streams.stages.ingest import deadletter
from streams.tables import JsonTable

if TYPE_CHECKING:
    from streams.app import Pipeline

logger = logging.getLogger(__name__)


class CustomerStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.engine = pipeline.engine
        self.profiles = pipeline.tables["profiles"]
        self.agenda_store = JsonTable(pipeline.tables["agenda"])
        self.customers = pipeline.customer_events
        self.clocks: dict[int, int] = {}
        self.agendas: dict[int, Agenda] = {}
        self.ledgers: dict[int, set[str]] = {}

    def load(self, customer_id: str) -> CustomerProfile | None:
        blob = self.profiles.get(customer_id)
        return CustomerProfile.from_dict(orjson.loads(blob)) if blob else None

    def save(self, profile: CustomerProfile) -> None:
        self.profiles[profile.customer_id] = profile.to_json()
        self.pipeline.serving.put_profile(profile)

    def agenda(self, partition: int) -> Agenda:
        agenda = self.agendas.get(partition)
        if agenda is None:
            agenda = self.agendas[partition] = Agenda(
                self.agenda_store,
                scope=str(partition),
                bucket_ms=self.engine.settings.agenda_bucket_ms,
            )
        return agenda

    async def handle(self, message: Any) -> None:
        routed = envelope.unpack(message.value)
        kind = routed["k"]
        partition = message.partition
        if kind == envelope.EVENT:
            await self.on_event(routed, partition)
            self.advance(partition, int(routed["e"]["event_time"]))
        elif kind == envelope.MERGE:
            await self.on_merge(routed["absorbed"], routed["survivor"])
        elif kind == envelope.ABSORB:
            await self.on_absorb(routed["survivor"], routed["profile"], partition)
        elif kind == envelope.TICK:
            self.advance(partition, int(routed["now"]))
        elif kind == envelope.ERASE:
            await self.on_erase(routed)
        await self.wake_due(partition)

    def advance(self, partition: int, now: int) -> None:
        if now > self.clocks.get(partition, 0):
            self.clocks[partition] = now

    async def on_event(self, routed: dict[str, Any], partition: int) -> None:
        customer_id = routed["cid"]
        profile = self.load(customer_id)
        if profile is not None and profile.merged_into:
            # The identity stage has already re-pointed this customer; this one was in flight.
            routed["cid"] = profile.merged_into
            await self.customers.send(key=profile.merged_into.encode(), value=envelope.pack(routed))
            return
        started = time.perf_counter()
        result = self.engine.step(profile, customer_id, routed["f"], routed["e"])
        self.pipeline.metrics.step_seconds.observe(time.perf_counter() - started)
        if result.duplicate:
            return
        if routed["f"] == "support":
            self.count_support(result.profile, routed["e"])
        await self.commit(result, partition, caused_at=routed.get("t0"))

    def count_support(self, profile: CustomerProfile, event: dict[str, Any]) -> None:
        """Containment and repeat-contact counters (no customer data in the labels)."""
        metrics, conversation = self.pipeline.metrics, profile.conversation
        if conversation is None:
            return
        now = int(event["event_time"])
        if event["kind"] == "resolved":
            outcome = conversation_outcome(conversation)
            metrics.support_conversations.labels(outcome).inc()
        elif conversation.opened_at == now and profile.support_contacts[-1:] == [now]:
            window = int(self.engine.settings.support_repeat_window_days * DAY_MS)
            repeat = is_repeat_contact(profile, now, window)
            metrics.support_contacts.labels("yes" if repeat else "no").inc()

    async def on_erase(self, routed: dict[str, Any]) -> None:
        """Erasure: the profile, its Redis view and the models' per-customer state go; the
        request is acknowledged on the erasure-ack topic."""
        customer_id = routed["cid"]
        if self.profiles.get(customer_id) is not None:
            del self.profiles[customer_id]
        self.pipeline.serving.drop_profile(customer_id)
        self.engine.forget(customer_id)
        await send_erasure_ack(self.pipeline, routed["request"], customer_id,
                               routed["requested_at"], routed["identifiers"])
    async def on_merge(self, absorbed_id: str, survivor_id: str) -> None:
        absorbed = self.load(absorbed_id)
        if absorbed is None or absorbed.merged_into:
            return
        tombstone = CustomerProfile(absorbed_id, merged_into=survivor_id)
        self.profiles[absorbed_id] = tombstone.to_json()
        self.pipeline.serving.drop_profile(absorbed_id)
        await self.customers.send(
            key=survivor_id.encode(),
            value=envelope.pack(
                {"k": envelope.ABSORB, "survivor": survivor_id, "profile": absorbed.to_dict()}
            ),
        )

    async def on_absorb(
        self, survivor_id: str, absorbed_data: dict[str, Any], partition: int
    ) -> None:
        absorbed = CustomerProfile.from_dict(absorbed_data)
        survivor = self.load(survivor_id) or CustomerProfile(survivor_id)
        if absorbed.customer_id in survivor.merged_from:
            return
        merged = self.engine.merge(survivor, absorbed)
        await self.commit(StepResult(merged), partition, caused_at=None)

    async def wake_due(self, partition: int) -> None:
        now = self.clocks.get(partition)
        if now is None:
            return
        for customer_id in self.agenda(partition).pop_due(now):
            profile = self.load(customer_id)
            if profile is None or profile.merged_into:
                continue
            result = self.engine.wake(profile, now)
            await self.commit(result, partition, caused_at=None)

    async def commit(self, result: StepResult, partition: int, *, caused_at: int | None) -> None:
        """Send decisions and wait for the broker's ack, then persist the profile that records
        them: a crash in between loses nothing, and the replay's resend is caught by the
        partition's sent ledger (see streams/sent_ledger.py)."""
        profile = result.profile
        deliveries = [(d, await self.send_decision(d, partition)) for d in result.decisions]
        metrics = self.pipeline.metrics
        for decision, delivery in deliveries:
            if delivery is None:
                continue
            await delivery
            metrics.decisions.labels(decision.decision_type).inc()
            if caused_at is not None:
                latency = max(0.0, time.time() - caused_at / 1000)
                metrics.decision_latency.labels(decision.decision_type).observe(latency)
        await self.log(result)
        self.save(profile)
        if result.wake_at is not None:
            self.agenda(partition).schedule(profile.customer_id, result.wake_at)

    async def log(self, result: StepResult) -> None:
        """Every verdict to the decision log and every closed window to the outcome topic
        (at least once: a replay after a crash may repeat them; readers keep the last per id)."""
        pipeline, metrics, codec = self.pipeline, self.pipeline.metrics, self.pipeline.codec
        created = int(time.time() * 1000)
        for entry in result.logged:
            decision = entry.decision
            metrics.verdicts.labels(decision.decision_type, entry.status, entry.rule or "").inc()
            record = decision.to_record(created_at=created, status=entry.status,
                                        suppressed_by=entry.rule)
            await pipeline.decision_log.send(key=decision.customer_id.encode(),
                                             value=codec.encode_decision(record))
        for outcome in result.outcomes:
            metrics.outcomes.labels(outcome.decision_type, outcome.experiment_arm,
                                    "yes" if outcome.converted else "no").inc()
            await pipeline.outcomes.send(key=outcome.customer_id.encode(),
                                         value=codec.encode("outcome", outcome.to_record()))

    async def send_decision(self, decision: Decision, partition: int) -> Awaitable[Any] | None:
        """Hand the decision to the producer; returns the delivery future (None if skipped)."""
        pipeline = self.pipeline
        ledger = self.ledgers.get(partition)
        if ledger is None:
            ledger = self.ledgers[partition] = await recently_sent(
                pipeline.settings, pipeline.codec, partition
            )
        if decision.decision_id in ledger:
            pipeline.metrics.decisions_already_sent.inc()
            return None
        record = decision.to_record(created_at=int(time.time() * 1000))
        delivery = await pipeline.decisions[decision.decision_type].send(
            key=decision.customer_id.encode(), value=pipeline.codec.encode_decision(record)
        )
        pipeline.serving.add_decision(decision.customer_id, record)
        return delivery


def register(pipeline: Pipeline) -> None:
    stage = CustomerStage(pipeline)

    async def forget_revoked(
        sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
    ) -> None:
        # Another worker may write to these partitions before they come back: rebuild the
        # agenda index and the sent ledger from Kafka then.
        revoked: set[Any] = args[0] if args else kwargs.get("revoked", set())
        for tp in revoked:
            if tp.topic == pipeline.settings.customer_topic:
                stage.agendas.pop(tp.partition, None)
                stage.ledgers.pop(tp.partition, None)
                stage.clocks.pop(tp.partition, None)

    pipeline.app.on_partitions_revoked.connect(forget_revoked)

    @pipeline.app.agent(pipeline.customer_events, name="customer")
    async def customer(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await stage.handle(message)
            except Exception as exc:
                logger.exception("customer stage failed on %s[%s]@%s", message.topic,
                                 message.partition, message.offset)
                await deadletter(pipeline, message, family="customer", reason="internal_error",
                                 detail=repr(exc), stage="customer")
