"""The router's ordering and offsets without a broker: what it routes at once, what waits for the
identity writer, and what it may commit meanwhile (a recording producer stands in for Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from nextbest.codec import Codec
from nextbest.engine import Engine
from nextbest.identity.graph import new_customer_id
from nextbest.streams import envelope
from nextbest.streams.deadletter import REASON
from nextbest.streams.metrics import WorkerMetrics
from nextbest.streams.reorder import EventTimeMerge
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.stages import router as router_stage
from nextbest.streams.stages.router import Router
from tests.events import click, identity, support

T0 = 1_767_225_600_000


class RecordBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes | None,
               headers: Any) -> bool:
        self.records.append((key, value))
        return True

    def close(self) -> None:
        pass


class RecordingProducer:
    """Collects what would be produced, per topic, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, bytes | None]] = []
        self.reasons: list[bytes] = []
        """The dead-letter reason of every message sent with one."""

    def _done(self) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   partition: int | None = None, headers: Any = None, **_: Any
                   ) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, value))
        self.reasons += [v for k, v in headers or () if k == REASON]
        return self._done()

    def create_batch(self) -> RecordBatch:
        return RecordBatch()

    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int
                         ) -> asyncio.Future[Any]:
        self.sent.extend((topic, partition, value) for _, value in batch.records)
        return self._done()

    def routed(self, settings: WorkerSettings) -> list[str]:
        """Event ids sent to the customer topic, in order."""
        return [envelope.unpack(v)["e"]["event_id"] for t, _, v in self.sent
                if t == settings.customer_topic and v and envelope.unpack(v)["k"] == "event"]

    def to_customers(self, settings: WorkerSettings) -> list[dict[str, Any]]:
        """Every message sent to the customer topic, in order."""
        return [envelope.unpack(v) for t, _, v in self.sent
                if t == settings.customer_topic and v]

    def requests(self, settings: WorkerSettings) -> list[dict[str, Any]]:
        return [envelope.unpack(v) for t, _, v in self.sent
                if t == settings.identity_request_topic and v]


class KnownGraph:
    def __init__(self, entries: dict[str, str], shared: tuple[str, ...] = ()) -> None:
        self.entries = entries
        self.shared = shared

    def lookup(self, key: str) -> str | None:
        return self.entries.get(key)

    def is_shared(self, key: str) -> bool:
        return key in self.shared

    def sighted(self, key: str) -> bool:
        return key in self.entries or key == "device_id:d-seen-before"


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    settings = WorkerSettings(topic_prefix="t.", partitions=4)
    producer = RecordingProducer()
    from prometheus_client import CollectorRegistry

    pipeline = SimpleNamespace(
        settings=settings, codec=Codec(), engine=Engine(), producer=producer,
        metrics=WorkerMetrics.create(CollectorRegistry()),
        customer_partition=lambda customer_id: 0, instance="router-test-instance",
    )
    known = KnownGraph({"email:lisa@example.com": "nb-lisa", "device_id:d-7": "nb-lisa",
                        "email:tom@example.com": "nb-tom"}, shared=("device_id:tablet",))
    router = Router(pipeline, known)  # type: ignore[arg-type]
    yield router
    await router.consumer.stop()
    await router._replies.stop()


def record(tp: TopicPartition, offset: int, family: str, event: dict[str, Any],
           timestamp: int = T0) -> ConsumerRecord[bytes, bytes]:
    value = Codec().encode(family, event)
    return ConsumerRecord(tp.topic, tp.partition, offset, timestamp, 0, b"k", value, None, 0,
                          len(value), [])


async def test_a_batch_of_several_partitions_is_routed_in_time_order(router: Router) -> None:
    """Not one partition's run after another's: the customer partition's clock would pass a
    cart's moment before the purchase fetched alongside it arrived."""
    settings = router.settings
    clicks = TopicPartition(settings.input_topic("clickstream"), 0)
    chats = TopicPartition(settings.input_topic("support"), 2)
    lisa = {"email": "lisa@example.com"}
    batch = {
        clicks: [record(clicks, 0, "clickstream", click(T0, "page_view", event_id="c0",
                                                       customer=lisa), T0),
                 record(clicks, 1, "clickstream", click(T0 + 30, "page_view", event_id="c1",
                                                       customer=lisa), T0 + 30),
                 # a producer's clock went back: still after c1, its partition's order holds
                 record(clicks, 2, "clickstream", click(T0 + 5, "page_view", event_id="c2",
                                                       customer=lisa), T0 + 5)],
        chats: [record(chats, 0, "support", support(T0 + 10, "c", "hi", event_id="s0",
                                                    customer=lisa), T0 + 10),
                record(chats, 1, "support", support(T0 + 20, "c", "hi", event_id="s1",
                                                    customer=lisa), T0 + 20)],
    }
    await router.process(batch)
    await router.outbox.flush()
    producer = router.pipeline.producer
    assert producer.routed(settings) == ["c0", "s0", "s1", "c1", "c2"]
    routed = producer.to_customers(settings)
    assert [m["f"] for m in routed if m["k"] == "event"] == [
        "clickstream", "support", "support", "clickstream", "clickstream"]


MERGE = {"email": "lisa@example.com", "customer_id": "tom-1", "device_id": "d-7"}
"""Lisa's identifiers with Tom's: a merge, which only the identity writer may carry out."""


async def test_a_merge_holds_the_events_of_its_customers_behind_it_and_their_offsets(
        router: Router) -> None:
    settings = router.settings
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    link = click(T0, "page_view", event_id="link", customer=MERGE)
    behind = click(T0 + 1, "page_view", event_id="behind", customer={"email": "lisa@example.com"})
    toms = click(T0 + 2, "page_view", event_id="toms", customer={"email": "tom@example.com"})
    batch = {tp: [record(tp, 10, "clickstream", link), record(tp, 11, "clickstream", behind),
                  record(tp, 12, "clickstream", toms)]}
    await router.process(batch)
    router.positions[tp] = 13
    await router.outbox.flush()

    # the merge waits for the writer, the events of both its customers behind it
    assert producer.routed(settings) == []
    (request,) = producer.requests(settings)
    assert request["ref"]["customer_id"] == "tom-1"
    assert router.committable()[tp] == 10  # nothing past the first waiting event

    _, held = router.asked[request["rid"]]
    held.customer_id, held.answered = "nb-lisa", True
    await router.resume({tp})
    await router.outbox.flush()
    assert producer.routed(settings) == ["link", "behind", "toms"]  # in the order they came
    assert router.committable()[tp] == 13


async def test_events_of_other_customers_go_past_one_that_waits_for_the_writer(
        router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_stage, "ANNOUNCE_SECONDS", 3600.0)
    settings = router.settings
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    link = click(T0, "page_view", event_id="link", customer=MERGE)
    lisas = click(T0 + 1, "page_view", event_id="lisas", customer={"device_id": "d-7"})
    new = click(T0 + 2, "page_view", event_id="new", customer={"email": "ann@example.com"})
    also_new = click(T0 + 3, "page_view", event_id="also-new",
                     customer={"email": "ann@example.com", "loyalty_id": "L-1"})
    await router.process({tp: [record(tp, n, "clickstream", e)
                               for n, e in enumerate([link, lisas, new, also_new])]})
    router.positions[tp] = 4
    await router.outbox.flush()

    # a new customer's events, in their own order; Lisa's device waits behind the merge
    assert producer.routed(settings) == ["new", "also-new"]
    assert router.committable()[tp] == 0
    assert len(producer.requests(settings)) == 1  # the merge: the new ones are announced later
    (request,) = producer.requests(settings)
    _, held = router.asked[request["rid"]]
    held.customer_id, held.answered = "nb-lisa", True
    await router.resume({tp})
    await router.outbox.flush()
    assert producer.routed(settings) == ["new", "also-new", "link", "lisas"]
    assert router.committable()[tp] == 4


async def test_with_the_identity_order_wait_set_nothing_goes_past_a_waiting_event(
        router: Router) -> None:
    router.settings = router.settings.model_copy(update={"identity_order_wait_seconds": 5.0})
    settings = router.settings
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    link = click(T0, "page_view", event_id="link", customer=MERGE)
    new = click(T0 + 2, "page_view", event_id="new", customer={"device_id": "d-other"})
    await router.process({tp: [record(tp, 0, "clickstream", link),
                               record(tp, 1, "clickstream", new)]})
    await router.outbox.flush()
    assert producer.routed(settings) == []


async def test_a_new_identifier_with_one_known_customers_is_linked_without_waiting(
        router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new device of a signed-in customer: the writer could answer nothing but that customer,
    so the event goes at once and the link is told to the writer with the first sightings."""
    monkeypatch.setattr(router_stage, "ANNOUNCE_SECONDS", 3600.0)
    settings = router.settings
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    new_device = click(T0, "page_view", event_id="new-device",
                       customer={"email": "lisa@example.com", "device_id": "d-new"})
    on_it = click(T0 + 1, "page_view", event_id="on-it", customer={"device_id": "d-new"})
    await router.process({tp: [record(tp, 0, "clickstream", new_device),
                               record(tp, 1, "clickstream", on_it)]})
    await router.outbox.flush()
    routed = producer.to_customers(settings)
    assert [(m["e"]["event_id"], m["cid"]) for m in routed if m["k"] == "event"] == [
        ("new-device", "nb-lisa"), ("on-it", "nb-lisa")]
    assert producer.requests(settings) == []
    await router.announce()
    await router.outbox.flush()
    (announcement,) = producer.requests(settings)
    assert [(r["ref"]["device_id"], r["provisional"]) for r in announcement["refs"]] == [
        ("d-new", "nb-lisa")]


@pytest.mark.parametrize("customer", [
    # a weak identifier counted before: whether this sighting marks it shared is the writer's
    {"email": "lisa@example.com", "device_id": "d-seen-before"},
    # a known weak identifier with a new strong identity: the writer counts that sighting
    {"email": "ann@example.com", "device_id": "d-7"},
    # identifiers of two customers: a merge
    {"email": "lisa@example.com", "device_id": "d-new", "customer_id": "tom-1"},
])
async def test_links_only_the_writer_can_resolve_wait_for_it(
        router: Router, customer: dict[str, str]) -> None:
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    settings = router.settings
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    await router.process({tp: [record(tp, 0, "clickstream", click(
        T0, "page_view", event_id="link", customer=customer))]})
    await router.outbox.flush()
    assert producer.routed(settings) == []
    (request,) = producer.requests(settings)
    assert request["ref"] == {**dict.fromkeys(
        ("customer_id", "email", "phone", "device_id", "loyalty_id", "pos_id")), **customer}


async def test_known_and_new_customers_are_routed_at_once(
        router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_stage, "ANNOUNCE_SECONDS", 3600.0)
    settings = router.settings
    tp = TopicPartition(settings.input_topic("support"), 1)
    producer = router.pipeline.producer
    known = support(T0, "c1", "hello", event_id="known", customer={"email": "lisa@example.com"})
    new = support(T0, "c2", "hi", event_id="new", customer={"phone": "+4917000000"})
    await router.process({tp: [record(tp, 0, "support", known), record(tp, 1, "support", new)]})
    await router.outbox.flush()

    assert producer.routed(settings) == ["known", "new"]
    routed = producer.to_customers(settings)
    new_id = new_customer_id("phone:+4917000000")
    assert [m["cid"] for m in routed if m["k"] == "event"] == ["nb-lisa", new_id]
    assert not router.held.get(tp)
    # the first sighting is told to the writer with the others of its interval, and at the
    # latest before the input that holds it is committed
    assert producer.requests(settings) == []
    await router.begin_checkpoint()
    await router.finish_checkpoint()
    (announcement,) = producer.requests(settings)
    assert announcement["refs"][0]["provisional"] == new_id


async def test_a_message_that_does_not_decode_is_dead_lettered(router: Router) -> None:
    settings = router.settings
    tp = TopicPartition(settings.input_topic("review"), 0)
    producer = router.pipeline.producer
    bad = ConsumerRecord(tp.topic, 0, 5, T0, 0, b"k", b"{not json", None, 0, 9, [])
    await router.process({tp: [bad]})
    (letter,) = [s for s in producer.sent if s[0] == settings.deadletter_topic]
    assert letter[2] == b"{not json"


async def test_a_shared_identifier_is_left_out_and_alone_is_dead_lettered(router: Router) -> None:
    settings = router.settings
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    with_email = click(T0, "page_view", event_id="with-email",
                       customer={"email": "lisa@example.com", "device_id": "tablet"})
    alone = click(T0 + 1, "page_view", event_id="alone", customer={"device_id": "tablet"})
    await router.process({tp: [record(tp, 0, "clickstream", with_email),
                               record(tp, 1, "clickstream", alone)]})
    await router.outbox.flush()

    assert producer.routed(settings) == ["with-email"]  # by the email, without the writer
    assert producer.requests(settings) == []
    assert producer.reasons == [b"shared_identifier_only"]


async def test_a_split_request_goes_to_the_writer_and_is_not_routed(router: Router) -> None:
    settings = router.settings
    tp = TopicPartition(settings.input_topic("identity"), 0)
    producer = router.pipeline.producer
    split = identity(T0, "split_requested", event_id="split", customer={"device_id": "d-7"})
    behind = identity(T0 + 1, "link", event_id="behind", customer={"email": "lisa@example.com"})
    toms = identity(T0 + 2, "link", event_id="toms", customer={"email": "tom@example.com"})
    await router.process({tp: [record(tp, 0, "identity", split),
                               record(tp, 1, "identity", behind),
                               record(tp, 2, "identity", toms)]})
    await router.outbox.flush()
    (request,) = producer.requests(settings)
    assert request["split"]["event_id"] == "split"
    # Lisa's (the device's customer) waits behind the request; Tom's goes on
    assert producer.routed(settings) == ["toms"]

    _, held = router.asked[request["rid"]]
    held.answered = True
    await router.resume({tp})
    await router.outbox.flush()
    assert producer.routed(settings) == ["toms", "behind"]


async def test_an_event_the_writer_resolves_to_nobody_is_dead_lettered_in_turn(
        router: Router) -> None:
    settings = router.settings
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    link = click(T0, "page_view", event_id="link",
                 customer={"email": "ann@example.com", "device_id": "d-7"})
    await router.process({tp: [record(tp, 0, "clickstream", link)]})
    await router.outbox.flush()
    (request,) = producer.requests(settings)
    assert request["at"] == T0

    _, held = router.asked[request["rid"]]
    held.customer_id, held.reason, held.answered = None, "shared_identifier_only", True
    await router.drain(tp)
    assert producer.routed(settings) == []
    assert producer.reasons == [b"shared_identifier_only"]


async def held_link(router: Router) -> tuple[TopicPartition, TopicPartition, dict[str, Any]]:
    """A link at T0 + 10 sent to the writer (clickstream 0), and a message at T0 + 50 for the
    support partition: the partitions and the message."""
    settings = router.settings
    clicks = TopicPartition(settings.input_topic("clickstream"), 0)
    chats = TopicPartition(settings.input_topic("support"), 1)
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    link = click(T0 + 10, "page_view", event_id="link", customer=MERGE)
    await router.process({clicks: [record(clicks, 0, "clickstream", link, T0 + 10)]})
    later = support(T0 + 50, "c", "hi", event_id="later", customer={"email": "lisa@example.com"})
    return clicks, chats, later


async def test_by_default_other_partitions_go_on_while_an_event_waits_for_the_writer(
        router: Router) -> None:
    settings = router.settings
    producer = router.pipeline.producer
    _, chats, later = await held_link(router)
    again = support(T0 + 60, "c", "hi", event_id="again", customer={"email": "lisa@example.com"})
    await router.process({chats: [record(chats, 0, "support", later, T0 + 50),
                                  record(chats, 1, "support", again, T0 + 60)]})
    await router.outbox.flush()
    routed = producer.to_customers(settings)
    # routed at once, each stamped with the time everything before it was routed by, held
    # back to before the link: nobody is woken past it
    assert [(m["e"]["event_id"], m["w"]) for m in routed if m["k"] == "event"] == [
        ("later", 0), ("again", T0 + 9)]


async def test_later_events_wait_for_an_event_held_for_the_writer_and_carry_the_time_before(
        router: Router) -> None:
    router.settings = router.settings.model_copy(update={"identity_order_wait_seconds": 5.0})
    router.merge = EventTimeMerge(max_wait=1.0, max_wait_before=5.0)
    settings = router.settings
    producer = router.pipeline.producer
    clicks, chats, later = await held_link(router)
    await router.process({chats: [record(chats, 0, "support", later, T0 + 50)]})
    await router.outbox.flush()

    def stamped() -> dict[str, int]:
        return {m["e"]["event_id"]: m["w"] for m in producer.to_customers(settings)
                if m["k"] == "event"}

    # the link waits for the writer, and the later message of another partition behind it
    assert stamped() == {}
    router.positions.update({clicks: 1, chats: 1})  # as the stage sets them after a batch
    assert router.committable() == {clicks: 0, chats: 0}  # neither is done
    (request,) = producer.requests(settings)
    _, held = router.asked[request["rid"]]
    held.customer_id, held.answered = "nb-lisa", True
    await router.resume({clicks})
    await router.outbox.flush()
    # each stamped with the time everything before it was routed by: its partition wakes
    # whoever was due by then before stepping it
    assert list(stamped().items()) == [("link", 0), ("later", T0 + 10)]
    assert router.committable() == {clicks: 1, chats: 1}


async def test_the_settled_floor_follows_the_oldest_head_as_events_are_held_and_taken(
        router: Router) -> None:
    """The floor is kept as heads change (no pass over every queue per event): after any
    sequence of holds and drains it is the oldest head's time less one, as a full pass says."""
    import random

    from nextbest.streams.stages.router import Held

    rng = random.Random(7)
    tps = [TopicPartition("in", p) for p in range(4)]
    router.watermark.advance(T0 + 10_000)

    def full_pass() -> int:
        heads = [int(q[0].routed["e"]["event_time"]) for q in router.held.values() if q]
        return min([T0 + 10_000, *(h - 1 for h in heads)])

    for step in range(2_000):
        tp = rng.choice(tps)
        if rng.random() < 0.55:
            at = T0 + rng.randrange(1_000)
            router.hold(tp, Held(step, {"e": {"event_time": at}}, (at, 0, str(step)),
                                 request_only=True, answered=rng.random() < 0.7))
        else:
            queue = router.held.get(tp)
            if queue and rng.random() < 0.5:
                queue[0].answered = True
            await router.drain(tp)
        assert router.settled_time() == full_pass(), step


async def test_the_writers_answer_routes_the_next_events_until_the_replica_has_it(
        router: Router) -> None:
    settings = router.settings
    router.replica.entries["customer_id:tom-1"] = "nb-tom"  # type: ignore[attr-defined]
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    producer = router.pipeline.producer
    await router.process({tp: [record(tp, 0, "clickstream", click(
        T0, "page_view", event_id="merge", customer=MERGE))]})
    await router.outbox.flush()
    (request,) = producer.requests(settings)
    _, held = router.asked.pop(request["rid"])
    held.customer_id, held.answered = "nb-lisa", True
    router.remember(held, shared=[])
    await router.resume({tp})

    # Tom's id now names Lisa (the survivor), though the replica does not know yet
    after = click(T0 + 1, "page_view", event_id="after", customer={"customer_id": "tom-1"})
    await router.process({tp: [record(tp, 1, "clickstream", after)]})
    await router.outbox.flush()
    assert producer.routed(settings) == ["merge", "after"]
    assert len(producer.requests(settings)) == 1
    # the replica's next entry for an identifier is newer than the answer
    router.replica.entries["customer_id:tom-1"] = "nb-ann"  # type: ignore[attr-defined]
    router.replica.changed("customer_id:tom-1")
    assert router.customers_of(["customer_id:tom-1"]) == ["nb-ann"]


async def test_an_identifier_the_writer_marked_shared_takes_its_customers_links_with_it(
        router: Router) -> None:
    router.provisional.update({"device_id:d-7": "nb-lisa", "email:ann@example.com": "nb-lisa",
                               "email:bob@example.com": "nb-bob"})
    settings = router.settings
    tp = TopicPartition(settings.input_topic("clickstream"), 0)
    from nextbest.streams.stages.router import Held

    held = Held(0, {"e": {"event_time": T0,
                          "customer": {"email": "eve@example.com", "device_id": "d-7"}}},
                (T0, 0, "x"), "nb-eve", answered=True)
    router.hold(tp, held)
    # the device was marked shared: the merges it linked into Lisa were undone
    router.remember(held, shared=["device_id:d-7"])
    assert router.provisional == {"email:bob@example.com": "nb-bob",
                                  "email:eve@example.com": "nb-eve"}
