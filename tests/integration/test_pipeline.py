"""The pipeline end to end on a real broker and Redis: events in, decisions and dead letters out,
profiles served from Redis."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from nextbest.streams import envelope
from nextbest.streams.deadletter import REASON, SOURCE_OFFSET, SOURCE_TOPIC, STAGE
from nextbest.streams.kafka import partition_of
from tests.events import DAY, MINUTE, click, identity, order, support
from tests.integration.harness import Harness

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    prefix = f"nbtest-{uuid.uuid4().hex[:10]}"
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=prefix,
                data_dir=Path(tmp_path_factory.mktemp("pipeline")))
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


def who() -> dict[str, str]:
    return {"email": f"{uuid.uuid4().hex[:10]}@example.com"}


def of_type(decisions: list[dict], kind: str, customer: str | None = None) -> list[dict]:
    return [d for d in decisions if d["decision_type"] == kind
            and (customer is None or d["customer_id"] == customer)]


def test_defective_return_gets_service_recovery_and_profile_in_redis(harness: Harness) -> None:
    lisa = who()
    harness.publish("purchase", [
        order(T0, f"o-{uuid.uuid4().hex[:6]}", total=89.0, customer=lisa, channel="pos"),
    ])
    ret = order(T0 + DAY, "ret-1", total=89.0, customer=lisa, kind="return", reason="defective",
                channel="pos")
    harness.publish("purchase", [ret], as_json=True)  # a JSON producer, same contract
    view = harness.customer(f"email:{lisa['email']}", until=lambda v: v["profile"]["returns"] == 1
                            and v["recent_decisions"])
    customer_id = view["customer_id"]
    decisions = harness.decisions(until=lambda ds: bool(of_type(ds, "service_recovery",
                                                                 customer_id)))
    (recovery,) = of_type(decisions, "service_recovery", customer_id)
    assert recovery["causing_event_id"] == ret["event_id"]
    assert [r["code"] for r in recovery["reasons"]] == ["return_defective", "asked_if_resolved"]
    assert view["profile"]["orders"] == 1 and view["profile"]["revenue"] == 89.0
    assert view["recent_decisions"][0]["decision_id"] == recovery["decision_id"]
    assert view["scores"]["frequency"] == 1.0


def test_legal_words_escalate_with_the_conversation(harness: Harness) -> None:
    john = {"phone": f"+4917{uuid.uuid4().int % 10**8:08d}"}
    conversation = f"conv-{uuid.uuid4().hex[:6]}"
    harness.publish("support", [
        support(T0, conversation, "Where are my headphones?", customer=john),
        support(T0 + MINUTE, conversation, "Your parcel is delayed.", author="bot", customer=john),
        support(T0 + 2 * MINUTE, conversation, "I will talk to my lawyer.", customer=john),
    ])
    decisions = harness.decisions(until=lambda ds: any(
        d["payload"].find(conversation) >= 0 for d in of_type(ds, "escalation")))
    (escalation,) = [d for d in of_type(decisions, "escalation") if conversation in d["payload"]]
    assert escalation["channel"] == "support_desk"
    assert "legal_words" in [r["code"] for r in escalation["reasons"]]
    assert escalation["payload"].count("Your parcel is delayed.") == 1  # full conversation


def test_malformed_messages_in_every_input_topic_are_dead_lettered(harness: Harness) -> None:
    families = ["clickstream", "purchase", "support", "review", "identity", "catalog"]
    for family in families:
        harness.publish(family, [], raw=[b"\x00\x00\x00\x00\x63garbage", b"{not json"])
    letters = harness.deadletters(count=2 * len(families))
    by_topic: dict[str, list[bytes]] = {}
    for message in letters:
        headers = dict(message.headers)
        assert headers["origin"] == b"test"  # original headers kept
        assert int(headers[SOURCE_OFFSET]) >= 0
        by_topic.setdefault(headers[SOURCE_TOPIC].decode(), []).append(headers[REASON])
    for family in families:
        reasons = by_topic[harness.settings.input_topic(family)]
        assert sorted(reasons) == [b"invalid_json", b"unknown_schema_id"], family
    # ... and the worker keeps going:
    hannah = who()
    harness.publish("support", [support(T0, f"c-{uuid.uuid4().hex[:6]}", "Refund me now",
                                        refund=900.0, customer=hannah)])
    harness.customer(f"email:{hannah['email']}", until=lambda v: v["recent_decisions"])


def test_identifiers_seen_together_merge_two_profiles(harness: Harness) -> None:
    device = {"device_id": f"dev-{uuid.uuid4().hex[:8]}"}
    email = who()
    harness.publish("purchase", [order(T0, f"o-{uuid.uuid4().hex[:6]}", total=10.0,
                                       customer=device)])
    harness.publish("purchase", [order(T0 + DAY, f"o-{uuid.uuid4().hex[:6]}", total=20.0,
                                       customer=email)])
    harness.customer(f"email:{email['email']}", until=lambda v: v["profile"]["orders"] == 1)
    harness.publish("identity", [identity(T0 + 2 * DAY, "link", customer={**device, **email})])
    merged = harness.customer(f"email:{email['email']}",
                              until=lambda v: v["profile"]["orders"] == 2)
    assert merged["profile"]["revenue"] == 30.0
    assert set(merged["profile"]["identifiers"]) >= {"device_id", "email"}
    by_device = harness.customer(f"device_id:{device['device_id']}",
                                 until=lambda v: v["profile"]["orders"] == 2)
    assert by_device["customer_id"] == merged["customer_id"]


def test_lapse_beyond_own_gap_found_by_event_time_sweep(harness: Harness) -> None:
    start = T0 + 400 * DAY
    buyer = who()
    harness.publish("purchase", [
        order(start + i * 10 * DAY, f"o-{uuid.uuid4().hex[:6]}", category="coffee",
              customer=buyer) for i in range(4)
    ])
    view = harness.customer(f"email:{buyer['email']}", until=lambda v: v["profile"]["orders"] == 4)
    customer_id = view["customer_id"]
    # Event time moves on through other customers' traffic; nothing more from this buyer.
    harness.publish("clickstream", [click(start + 60 * DAY, "page_view", customer=who())])
    decisions = harness.decisions(until=lambda ds: bool(of_type(ds, "winback", customer_id)))
    (winback,) = of_type(decisions, "winback", customer_id)
    assert '"last_category":"coffee"' in winback["payload"]
    assert "every 10 days" in winback["reasons"][0]["text"]


def test_abandoned_cart_reminded_after_the_delay(harness: Harness) -> None:
    shopper = who()
    start = T0 + 500 * DAY
    harness.publish("clickstream", [
        click(start, "add_to_cart", item_id="shoe-9", category="shoes", price=120.0,
              customer=shopper),
    ])
    view = harness.customer(f"email:{shopper['email']}", until=lambda v: v["profile"]["cart"])
    harness.publish("clickstream", [click(start + 45 * MINUTE, "page_view", customer=who())])
    decisions = harness.decisions(until=lambda ds: bool(
        of_type(ds, "cart_reminder", view["customer_id"])))
    (reminder,) = of_type(decisions, "cart_reminder", view["customer_id"])
    assert '"item_id":"shoe-9"' in reminder["payload"]


def test_metrics_count_events_dead_letters_and_decisions(harness: Harness) -> None:
    text = harness.metrics()
    assert 'nextbest_events_in_total{family="purchase"}' in text
    assert 'nextbest_deadletters_total{family="review",reason="invalid_json"}' in text
    assert 'nextbest_decisions_total{decision_type="service_recovery"}' in text
    assert "nextbest_event_to_decision_seconds_bucket" in text
    assert "@example.com" not in text  # no PII in labels
    assert "nextbest_event_loop_lag_seconds_count" in text


def test_health_endpoints_answer_for_probes(harness: Harness) -> None:
    for path, field in (("/health/live", "live"), ("/health/ready", "ready")):
        with urllib.request.urlopen(f"{harness.worker.url}{path}") as response:
            assert response.status == 200
            assert orjson.loads(response.read()) == {field: True}


def test_a_record_the_engine_cannot_step_is_dead_lettered_alone(harness: Harness) -> None:
    """A record that makes the customer stage raise goes to the dead-letter topic as
    internal_error; the records around it in the same batch are stepped, the stage goes on."""
    settings = harness.settings
    conversation = f"conv-{uuid.uuid4().hex[:6]}"
    customers = [f"nb-test{uuid.uuid4().hex[:12]}" for _ in range(3)]
    broken = customers[1]

    def routed(customer_id: str) -> tuple[int, bytes]:
        event = support(T0, conversation, "I will talk to my lawyer.",
                        customer={"customer_id": customer_id})
        if customer_id == broken:
            del event["event_time"]  # the engine cannot step an event without its time
        message = {"k": envelope.EVENT, "cid": customer_id, "f": "support", "e": event,
                   "t0": T0}
        return partition_of(customer_id, settings.partitions), envelope.pack(message)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_broker, linger_ms=50)
        await producer.start()
        try:
            sends = [await producer.send(settings.customer_topic, value, key=c.encode(),
                                         partition=p)
                     for c, (p, value) in ((c, routed(c)) for c in customers)]
            await asyncio.gather(*sends)
        finally:
            await producer.stop()

    asyncio.run(send())
    letters = harness.read([settings.deadletter_topic], until=lambda ms: any(
        dict(m.headers).get(REASON) == b"internal_error" and m.key == broken.encode()
        for m in ms))
    (letter,) = [m for m in letters if m.key == broken.encode()]
    assert dict(letter.headers)[STAGE] == b"customer"
    decisions = harness.decisions(until=lambda ds: {customers[0], customers[2]} <= {
        d["customer_id"] for d in of_type(ds, "escalation")})
    assert broken not in {d["customer_id"] for d in decisions}
