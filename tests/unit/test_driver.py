"""The one loop (nextbest.driver): merges, wakes by event time, re-deliveries, tombstones."""

from __future__ import annotations

from nextbest.driver import CustomerPartition, InProcess, Redirect
from nextbest.engine import Engine
from tests.events import DAY, MINUTE, click, order, policy_settings

LISA = {"email": "lisa@example.com"}
PHONE = {"device_id": "phone-1"}
BOTH = {"email": "lisa@example.com", "device_id": "phone-1"}
OTHER = {"email": "someone@example.com"}


def loop() -> InProcess:
    return InProcess(Engine(policy_settings()))


def test_identities_linked_later_become_one_profile_with_both_histories() -> None:
    run = loop()
    run.feed("purchase", order(0, "o1", total=60.0, customer=LISA))
    run.feed("purchase", order(DAY, "o2", total=40.0, customer=PHONE))
    lisa = run.graph.lookup("email:lisa@example.com")
    phone = run.graph.lookup("device_id:phone-1")
    assert lisa and phone and lisa != phone

    fed = run.feed("clickstream", click(2 * DAY, "view", item_id="i1", customer=BOTH))

    survivor, absorbed = min(lisa, phone), max(lisa, phone)
    assert fed.customer_id == survivor
    (merge,) = fed.merges
    assert merge.absorbed.customer_id == absorbed and merge.absorbed.orders == 1
    assert merge.result.profile.merged_from == [absorbed]
    assert fed.stepped is not None and fed.results[:2] == [merge.result, fed.stepped]
    profile = run.profiles.get(survivor)
    assert profile is not None
    assert (profile.orders, profile.revenue) == (2, 100.0)
    tombstone = run.profiles.get(absorbed)  # what a split would restore
    assert tombstone is not None and tombstone.merged_into == survivor
    assert (tombstone.orders, tombstone.revenue) == (1, 40.0)
    # Either identifier alone now reaches the survivor, and nothing merges again.
    again = run.feed("purchase", order(3 * DAY, "o3", total=10.0, customer=PHONE))
    assert again.customer_id == survivor and again.merges == []
    assert run.profiles.get(survivor).orders == 3  # type: ignore[union-attr]


def test_abandoned_cart_is_reminded_when_event_time_passes_its_due_moment() -> None:
    run = loop()
    run.feed("clickstream", click(0, "add_to_cart", item_id="i1", category="shoes", price=80.0,
                                  customer=LISA))
    lisa = run.graph.lookup("email:lisa@example.com")
    # Someone else's events move event time; Lisa is woken once it has passed her moment.
    early = run.feed("clickstream", click(10 * MINUTE, "view", item_id="i2", customer=OTHER))
    assert early.woken == [] and early.now == 10 * MINUTE
    late = run.feed("clickstream", click(31 * MINUTE, "view", item_id="i2", customer=OTHER))
    (woken,) = late.woken
    assert woken.profile.customer_id == lisa and late.now == 31 * MINUTE
    (reminder,) = woken.decisions
    assert reminder.decision_type == "cart_reminder"
    assert reminder.payload["items"][0]["item_id"] == "i1"
    assert late.results[-1] is woken
    assert run.tick(2 * DAY) == []  # decided once


def test_wake_all_wakes_every_waiting_customer_not_only_what_the_agenda_lets_through() -> None:
    run = loop()
    run.feed("clickstream", click(0, "add_to_cart", item_id="i1", price=80.0, customer=LISA))
    lisa = run.graph.lookup("email:lisa@example.com")
    assert run.tick(10 * MINUTE) == []  # her bucket has not passed
    (woken,) = run.wake_all(10 * MINUTE)
    assert woken.profile.customer_id == lisa and woken.decisions == []
    assert run.clock == 10 * MINUTE


def test_redelivered_event_changes_nothing() -> None:
    run = loop()
    event = order(0, "o1", total=60.0, customer=LISA)
    first = run.feed("purchase", event)
    assert first.stepped is not None
    lisa = run.graph.lookup("email:lisa@example.com")
    before = run.profiles.get(lisa).to_dict()  # type: ignore[union-attr]

    again = run.feed("purchase", dict(event))

    assert again.customer_id == lisa
    assert again.stepped is None and again.merges == [] and again.results == []
    assert run.profiles.get(lisa).to_dict() == before  # type: ignore[union-attr]


def test_event_for_an_absorbed_customer_is_redirected_to_the_survivor() -> None:
    partition = CustomerPartition(Engine(policy_settings()))
    partition.step("nb-a", "purchase", order(0, "o1", customer=LISA))
    partition.step("nb-b", "purchase", order(DAY, "o2", customer=PHONE))

    handed = partition.merge_out("nb-b", "nb-a")
    assert handed is not None and handed["customer_id"] == "nb-b"
    assert partition.merge_out("nb-b", "nb-a") is None  # already left
    merged = partition.absorb("nb-a", handed)
    assert merged is not None and merged.profile.orders == 2
    assert partition.absorb("nb-a", handed) is None  # idempotent
    # A survivor absorbed itself before a profile reached it hands the profile on.
    assert partition.merge_out("nb-a", "nb-0") is not None
    assert partition.absorb("nb-a", {**handed, "customer_id": "nb-c"}) == Redirect("nb-0")

    late = click(2 * DAY, "view", item_id="i1", customer=PHONE)
    assert partition.step("nb-b", "clickstream", late) == Redirect("nb-a")
    tombstone = partition.profiles.get("nb-b")
    assert tombstone is not None and tombstone.merged_into == "nb-a"
    # The tombstone keeps the profile as it left (for a split); nothing was stepped on it.
    assert tombstone.orders == 1 and tombstone.recent_event_ids == handed["recent_event_ids"]
