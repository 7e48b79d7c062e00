"""Every decision type on the real broker, with the guardrails on (default settings): what is
sent, what a capped or opted-out customer does not get, what a holdout customer gets logged
instead, what the attribution windows report, and an erasure acknowledged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from nextbest.experiments import HOLDOUT, arm_for
from nextbest.identity.graph import new_customer_id
from nextbest.partitions import partition_of
from nextbest.settings import EngineSettings
from tests.events import DAY, MINUTE, click, identity, order, review, support
from tests.integration.harness import Harness

NOON = 1_767_268_800_000  # 2026-01-01T12:00Z (customers without a zone live in UTC)
HOUR = 3_600_000
SETTINGS = EngineSettings()


@pytest.fixture(scope="module")
def harness(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    h = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=f"nbdec-{uuid.uuid4().hex[:8]}",
                data_dir=Path(tmp_path_factory.mktemp("decisions")), engine={})
    h.start_worker()
    try:
        yield h
    finally:
        h.worker.stop()


def who(*, holdout: bool = False) -> dict[str, str]:
    """A new customer whose canonical id lands in (or outside) the holdout group."""
    while True:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        cid = new_customer_id(f"email:{email}")
        if (arm_for(cid, "winback", SETTINGS) == HOLDOUT) == holdout:
            return {"email": email}


def cid_of(customer: dict[str, str]) -> str:
    return new_customer_id(f"email:{customer['email']}")


def of(records: list[dict[str, Any]], kind: str, customer: dict[str, str]) -> list[dict]:
    return [r for r in records if r["decision_type"] == kind and r["customer_id"] == cid_of(
        customer)]


def orders(harness: Harness, customer: dict[str, str], count: int) -> None:
    harness.customer(f"email:{customer['email']}",
                     until=lambda v: v["profile"]["orders"] == count)


def advance(harness: Harness, to: int) -> None:
    """Event time moves on through another customer's click."""
    harness.publish("clickstream", [click(to, "page_view", customer=who())])


def test_every_decision_type_with_its_guardrails(harness: Harness) -> None:
    t = NOON
    # Service recovery (use case 1); an opted-out customer's defective return gets nothing.
    lisa, quiet = who(), who()
    harness.publish("identity", [identity(t, "consent_revoked", channel="all", customer=quiet)])
    # Input topics are consumed independently: wait for facts a later event depends on.
    harness.customer(f"email:{quiet['email']}",
                     until=lambda v: v["profile"]["consent"].get("all") is False)
    harness.publish("purchase", [
        order(t, "lisa-1", total=59.0, customer=lisa),
        order(t + HOUR, "lisa-1", kind="return", reason="defective", customer=lisa),
        order(t, "quiet-1", total=59.0, customer=quiet),
        order(t + HOUR, "quiet-1", kind="return", reason="defective", customer=quiet),
    ])
    # Escalation (use case 2) reaches a person even for a holdout customer: service, not sales.
    john = who(holdout=True)
    harness.publish("support", [
        support(t, "john-1", "I will talk to my lawyer about these headphones.", customer=john)])
    # Support reply, tier 1: a plain order-status question with an order on file.
    mara = who()
    harness.publish("purchase", [order(t - DAY, "mara-1", customer=mara)])
    orders(harness, mara, 1)
    harness.publish("support", [
        support(t, "mara-c", "Where is my order mara-1?", customer=mara, order_id="mara-1")])
    # Loyalty reward on the 5th order; a thank-you for a review the same day is capped
    # (one email per customer and channel per 24 h).
    loyal = who()
    harness.publish("purchase", [order(t - (4 - k) * 2 * DAY, f"loyal-{k}", customer=loyal,
                                       category="coffee") for k in range(5)])
    orders(harness, loyal, 5)
    harness.publish("review", [review(t + 2 * HOUR, "beans", 5, "Lovely beans, thank you!",
                                      customer=loyal)])
    # Review request after a positive resolved conversation (use case 3), thank-you after review.
    hannah = who()
    harness.publish("purchase", [order(t - 2 * DAY, "hannah-1", customer=hannah)])
    orders(harness, hannah, 1)
    harness.publish("support", [
        support(t, "hannah-c", "Could you change my delivery address please?", customer=hannah),
        support(t + MINUTE, "hannah-c", "Done, the address is updated.", author="agent",
                customer=hannah),
        support(t + 2 * MINUTE, "hannah-c", "Great, thank you so much, that was quick!",
                customer=hannah),
        support(t + 3 * MINUTE, "hannah-c", None, kind="resolved", author="agent",
                customer=hannah),
    ])
    # Cart reminder after the behavioural delay; the holdout twin is logged, not sent.
    cart, cart_holdout = who(), who(holdout=True)
    harness.publish("clickstream", [
        click(t, "add_to_cart", item_id="tent-1", category="camping", price=120.0, customer=c)
        for c in (cart, cart_holdout)])
    # Next best offer: a buyer browsing without buying.
    browser = who()
    harness.publish("purchase", [order(t - 20 * DAY, "browser-1", total=80.0, customer=browser)])
    orders(harness, browser, 1)
    harness.publish("clickstream", [
        click(t + k * MINUTE, "product_view", item_id=f"lamp-{k}", category="lighting",
              price=40.0, customer=browser) for k in range(3)])
    # Win-back: a weekly buyer gone silent.
    lapsing = who()
    harness.publish("purchase", [order(t - 60 * DAY + k * 7 * DAY, f"lapse-{k}", customer=lapsing,
                                       category="coffee") for k in range(4)])
    orders(harness, lapsing, 4)
    harness.customer(f"email:{hannah['email']}",
                     until=lambda v: (v["profile"]["conversation"] or {}).get("resolved"))
    harness.customer(f"email:{cart_holdout['email']}", until=lambda v: v["profile"]["cart"])
    harness.customer(f"email:{browser['email']}",
                     until=lambda v: v["profile"]["views_since_order"] == 3)
    advance(harness, t + HOUR)  # the cart reminders are due, and held for the behavioural delay
    harness.logged(until=lambda ls: bool(of(ls, "cart_reminder", cart_holdout)))
    advance(harness, t + 25 * HOUR)  # past the behavioural delay, at 13:00 UTC

    sent = harness.decisions(until=lambda ds: all(of(ds, kind, c) for kind, c in (
        ("service_recovery", lisa), ("escalation", john), ("support_reply", mara),
        ("loyalty_reward", loyal), ("review_request", hannah), ("cart_reminder", cart),
        ("next_best_offer", browser), ("winback", lapsing))))
    logged = harness.logged(until=lambda ls: bool(of(ls, "cart_reminder", cart_holdout))
                            and bool(of(ls, "thank_you", loyal)))

    (recovery,) = of(sent, "service_recovery", lisa)
    apology = orjson.loads(recovery["payload"])
    assert apology["ask_if_resolved"] and "offer" not in apology  # the answer decides
    assert of(sent, "service_recovery", quiet) == []  # opted out: nothing
    (escalation,) = of(sent, "escalation", john)
    assert escalation["experiment_arm"] is None  # service decisions are never held out
    (reply,) = of(sent, "support_reply", mara)
    assert orjson.loads(reply["payload"])["tier"] == 1
    (reward,) = of(sent, "loyalty_reward", loyal)
    assert orjson.loads(reward["payload"])["offer"]["kind"] == "loyalty_reward"
    assert of(sent, "thank_you", loyal) == []
    (capped,) = of(logged, "thank_you", loyal)
    assert (capped["status"], capped["suppressed_by"]) == ("suppressed", "frequency_cap")
    (request,) = of(sent, "review_request", hannah)
    assert request["experiment_arm"] == "treatment"
    (reminder,) = of(sent, "cart_reminder", cart)
    assert reminder["decided_at"] >= t + DAY  # held for the behavioural delay
    assert of(sent, "cart_reminder", cart_holdout) == []
    statuses = [(r["status"], r["experiment_arm"]) for r in of(logged, "cart_reminder",
                                                                 cart_holdout)]
    assert ("control", HOLDOUT) in statuses and ("deferred", None) in statuses
    (offer,) = of(sent, "next_best_offer", browser)
    payload = orjson.loads(offer["payload"])
    assert payload["offer"]["cost"] <= 0.1 * 80.0
    assert {r["code"] for r in offer["reasons"]} >= {"offer_choice", "incentive_bound"}
    (winback,) = of(sent, "winback", lapsing)
    assert orjson.loads(winback["payload"])["last_category"] == "coffee"
    for decision in sent:  # explanations: reasons in words and the scores behind them
        assert decision["reasons"] and all(r["text"] for r in decision["reasons"])
        assert decision["scores"]

    # Thank-you for a customer who was not capped.
    harness.publish("review", [review(t + 26 * HOUR, "dress-1", 5, "Perfect fit!",
                                      customer=hannah)])
    thanks = harness.decisions(until=lambda ds: bool(of(ds, "thank_you", hannah)))
    assert len(of(thanks, "thank_you", hannah)) == 1

    # Lisa answers the apology in its conversation: satisfied with the refund, disappointed
    # with the dress - a gesture scaled by her value follows, in the same conversation.
    harness.publish("support", [support(t + 26 * HOUR, apology["conversation_id"],
                                        "Happy with the refund, but disappointed with the dress.",
                                        customer=lisa)])
    answered = harness.decisions(until=lambda ds: len(of(ds, "service_recovery", lisa)) == 2)
    (gesture,) = [d for d in of(answered, "service_recovery", lisa)
                  if d["decision_id"] != recovery["decision_id"]]
    gift = orjson.loads(gesture["payload"])
    assert (gift["template"], gift["offer"]["kind"]) == ("apology_with_offer", "discount")
    assert [r["code"] for r in gesture["reasons"]] == ["answer_disappointed",
                                                       "offer_scaled_by_value"]
    assert of(answered, "support_reply", lisa) == []  # the answer was the recovery's

    # A week later the attribution windows close: the treated and the holdout cart are reported.
    harness.publish("purchase", [order(t + 2 * DAY, "cart-bought", item_id="tent-1",
                                       total=120.0, customer=cart_holdout)])
    orders(harness, cart_holdout, 1)
    advance(harness, t + 9 * DAY)
    outcomes = harness.records(
        harness.settings.outcome_topic, "outcome",
        until=lambda os: bool(of(os, "cart_reminder", cart) and of(os, "cart_reminder",
                                                                    cart_holdout)))
    (treated,) = of(outcomes, "cart_reminder", cart)
    (control,) = of(outcomes, "cart_reminder", cart_holdout)
    assert (treated["sent"], control["sent"]) == (True, False)
    assert (control["experiment_arm"], control["orders"], control["revenue"]) == (
        HOLDOUT, 1, 120.0)

    # The incentives spent are in their partitions' pots, in the partitions' changelogs.
    spent: dict[int, float] = {}
    for d in (reward, offer):
        partition = partition_of(d["customer_id"], harness.settings.partitions)
        spent[partition] = spent.get(partition, 0.0) + orjson.loads(d["payload"])["offer"]["cost"]

    def pots(records: list[Any]) -> dict[int, float]:
        latest = {r.partition: orjson.loads(r.value) for r in records
                  if r.key == b"@incentive-budget"}
        return {partition: sum(days.values()) for partition, days in latest.items()}

    # Written at the next checkpoint (every few seconds): read until it is there.
    written = pots(harness.read([harness.settings.customer_state_topic],
                                until=lambda rs: all(pots(rs).get(p, 0.0) >= cost
                                                     for p, cost in spent.items())))
    for partition, cost in spent.items():
        assert written[partition] >= cost > 0

    metrics = harness.metrics()
    assert ('nextbest_decision_verdicts_total{decision_type="thank_you",rule="frequency_cap",'
            'status="suppressed"}') in metrics
    assert 'nextbest_support_contacts_total{repeat="no"}' in metrics


def test_erasure_removes_the_customer_and_is_acknowledged(harness: Harness) -> None:
    gone = who()
    harness.publish("purchase", [order(NOON + 30 * DAY, "gone-1", customer=gone)])
    harness.customer(f"email:{gone['email']}", until=lambda v: v["profile"]["orders"] == 1)
    harness.publish("identity", [identity(NOON + 30 * DAY + HOUR, "erasure_requested",
                                          customer=gone, event_id=f"erase-{uuid.uuid4().hex}")])
    acks = harness.records(harness.settings.erasure_ack_topic, "erasure_ack",
                           until=lambda rs: any(r["customer_id"] == cid_of(gone) for rs_ in [rs]
                                                for r in rs_))
    (ack,) = [r for r in acks if r["customer_id"] == cid_of(gone)]
    assert ack["identifiers_removed"] >= 1
    assert {"identity_graph", "redis", "profile_table"} <= set(ack["stores"])
    assert all(s.startswith("models.") for s in set(ack["stores"]) - {
        "identity_graph", "redis", "profile_table"})
    # No longer served, by e-mail or by id (within the write-behind's flush), and for good.
    assert harness.gone(f"email:{gone['email']}") and harness.gone(cid_of(gone))
    with pytest.raises(AssertionError):
        harness.customer(f"email:{gone['email']}", until=lambda v: True, timeout=3.0)
