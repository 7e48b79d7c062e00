"""Fulfilment events on a real broker: a late parcel earns one proactive apology, the bot's
answer to "where is my order?" comes from the parcel's real status (use case 2), and a delay
the contract refuses goes to the dead-letter topic with its reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from nextbest.streams.deadletter import DETAIL, REASON, SOURCE_TOPIC
from tests.events import DAY, MINUTE, order, shipment, support
from tests.integration.harness import Harness

T0 = 1_767_268_800_000  # 2026-01-01T12:00Z (a Thursday; the customers live in UTC)
HOUR = 60 * MINUTE
PROMISED = T0 + 3 * DAY  # Sunday 4 January


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbful-{uuid.uuid4().hex[:8]}",
                data_dir=Path(tmp_path_factory.mktemp("fulfilment")))
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


def of(decisions: list[dict[str, Any]], kind: str, customer_id: str) -> list[dict[str, Any]]:
    return [d for d in decisions if d["decision_type"] == kind
            and d["customer_id"] == customer_id]


def test_a_late_parcel_is_apologised_for_once_and_the_bot_answers_from_its_status(
        harness: Harness) -> None:
    john = {"email": f"john-{uuid.uuid4().hex[:8]}@example.com"}
    ref, order_id = f"email:{john['email']}", f"O-{uuid.uuid4().hex[:6]}"
    track = f"https://track.example/dhl/{order_id}"
    harness.publish("purchase", [order(T0, order_id, total=240.0, category="headphones",
                                       item_id="hp-7", customer=john)])
    # Input topics are consumed independently: the order is on file before its parcel moves.
    cid = harness.customer(ref, until=lambda v: v["profile"]["orders"] == 1)["customer_id"]
    harness.publish("fulfilment", [shipment(T0 + 5 * HOUR, order_id, "shipped",
                                            promised=PROMISED, tracking_url=track,
                                            customer=john)])
    harness.publish("fulfilment", [  # a JSON producer, the same contract
        shipment(T0 + DAY, order_id, "delayed", promised=PROMISED, expected=PROMISED + 3 * DAY,
                 reason="warehouse", carrier=None, customer=john),
        shipment(T0 + 2 * DAY, order_id, "delayed", promised=PROMISED,
                 expected=PROMISED + 4 * DAY, reason="warehouse", carrier=None, customer=john),
    ], as_json=True)
    view = harness.customer(ref, until=lambda v: any(
        x["delays"] == 2 for x in v["profile"]["shipments"]))
    (parcel,) = view["profile"]["shipments"]
    assert (parcel["status"], parcel["carrier"], parcel["expected_delivery"]) == (
        "delayed", "DHL", PROMISED + 4 * DAY)

    decisions = harness.decisions(until=lambda ds: bool(of(ds, "delay_apology", cid)))
    (apology,) = of(decisions, "delay_apology", cid)  # the second delay sent nothing more
    assert (apology["action"], apology["channel"]) == ("send_message", "email")
    payload = orjson.loads(apology["payload"])
    assert (payload["order_id"], payload["items"], payload["delay_days"]) == (
        order_id, ["hp-7"], 3.0)
    assert (payload["tracking_url"], payload["delay_reason"]) == (track, "warehouse")
    assert payload["offer"]["kind"] == "discount" and payload["offer"]["cost"] > 0
    codes = [r["code"] for r in apology["reasons"]]
    assert codes[:2] == ["shipment_delayed", "before_the_customer_asks"]

    # Three days on, John asks: the bot answers with where his parcel really is.
    conversation = f"cv-{uuid.uuid4().hex[:6]}"
    asked = T0 + 3 * DAY + 2 * HOUR
    harness.publish("support", [
        support(asked, conversation, None, kind="opened", customer=john, order_id=order_id),
        support(asked + MINUTE, conversation, "Hi, where is my order? It was due today.",
                customer=john, order_id=order_id)])
    decisions = harness.decisions(until=lambda ds: bool(of(ds, "support_reply", cid)))
    (reply,) = of(decisions, "support_reply", cid)
    answer = orjson.loads(reply["payload"])
    assert (reply["action"], answer["tier"], answer["intent"]) == (
        "send_automated_answer", 1, "order_status")
    assert answer["answer"] == (
        f"I am sorry: order {order_id} of 1 January 2026 is delayed at our warehouse: promised "
        f"for Sunday 4 January, now expected on Thursday 8 January. You can follow it with DHL: "
        f"{track}.")
    assert "shipment_status" in [r["code"] for r in reply["reasons"]]
    assert len(of(decisions, "delay_apology", cid)) == 1


def test_a_delay_the_contract_refuses_is_dead_lettered_with_its_reason(harness: Harness) -> None:
    codec, someone = harness.codec, {"email": f"{uuid.uuid4().hex[:8]}@example.com"}
    no_new_date = shipment(T0, "O-x1", "delayed", promised=PROMISED, customer=someone)
    earlier = shipment(T0, "O-x2", "delayed", promised=PROMISED, expected=PROMISED - DAY,
                       customer=someone)
    harness.publish("fulfilment", [], raw=[
        codec.encode_json("fulfilment", no_new_date, check=False),
        codec.encode("fulfilment", earlier, check=False)])
    letters = harness.deadletters(count=2)
    details = sorted(dict(m.headers)[DETAIL].decode() for m in letters)
    assert {dict(m.headers)[REASON] for m in letters} == {b"invalid_value"}
    assert {dict(m.headers)[SOURCE_TOPIC] for m in letters} == {
        harness.settings.input_topic("fulfilment").encode()}
    assert "a delay needs the new delivery date" in details[0] + details[1]
    assert "not after promised_delivery" in details[0] + details[1]
    assert ('nextbest_deadletters_total{family="fulfilment",reason="invalid_value"} 2.0'
            in harness.metrics())
