"""The served view in Redis: a customer found by any identifier in any case or format, as the
router links them, and the bounded lists of decisions withheld and events it serves with the
profile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest

from nextbest.decisions.record import Decision, Reason
from nextbest.identity.graph import identifier_keys
from nextbest.profile.state import CustomerProfile
from nextbest.streams.serving import RECENT_EVENTS, ProfileServing, RedisKeys
from tests.events import identity, order, support

LISA = {"email": "Lisa@Example.com", "phone": "+49 (170) 123-4567", "customer_id": "C00042"}


@pytest.fixture
def serving() -> Iterator[ProfileServing]:
    yield ProfileServing(fakeredis.FakeAsyncRedis(), RedisKeys("t"))


def served(serving: ProfileServing, customer_id: str, ref: dict[str, str]) -> None:
    """What the worker writes for a customer the router linked by ``ref``."""
    for key in identifier_keys(ref):
        serving.link(key, customer_id)
    serving.put_profile(CustomerProfile(customer_id, orders=2))
    asyncio.run(serving.flush())


def find(serving: ProfileServing, reference: str) -> str | None:
    return asyncio.run(serving.find(reference))


@pytest.mark.parametrize("reference", [
    "email:Lisa@Example.com", "email:lisa@example.com", "email: LISA@EXAMPLE.COM ",
    "phone:+49 170 1234567", "phone:+491701234567", "phone:+49-170-123-45-67",
    "customer_id:C00042", "nb-lisa", "Lisa@example.COM", "+49 170 123 4567", "C00042",
])
def test_a_customer_is_found_by_any_identifier_in_any_case_or_format(
        serving: ProfileServing, reference: str) -> None:
    served(serving, "nb-lisa", LISA)
    assert find(serving, reference) == "nb-lisa"


@pytest.mark.parametrize("reference", [
    "email:lisa@example.org", "phone:+49 170 1234568", "phone:call me", "email:", "",
    "customer_id:c00042",  # the shop's own numbers are compared as they are
    "nb-nobody",
])
def test_nobody_is_found_by_what_does_not_name_them(serving: ProfileServing,
                                                    reference: str) -> None:
    served(serving, "nb-lisa", LISA)
    assert find(serving, reference) is None


def test_a_named_kind_looks_in_that_kind_only(serving: ProfileServing) -> None:
    served(serving, "nb-lisa", {"email": "lisa@example.com"})
    served(serving, "nb-pos", {"pos_id": "lisa@example.com"})
    assert find(serving, "pos_id:lisa@example.com") == "nb-pos"
    assert find(serving, "email:lisa@example.com") == "nb-lisa"
    assert find(serving, "lisa@example.com") == "nb-lisa"  # bare: the stronger kind first


def test_the_view_by_identifier_is_the_customers(serving: ProfileServing) -> None:
    served(serving, "nb-lisa", LISA)
    view = asyncio.run(serving.customer("email:LISA@example.com"))
    assert view is not None
    assert (view["customer_id"], view["profile"]["orders"]) == ("nb-lisa", 2)
    assert asyncio.run(serving.customer("email:someone@example.com")) is None


def decision(n: int) -> dict[str, Any]:
    return Decision.create(
        decision_type="winback", customer_id="nb-lisa", trigger=f"t{n}", action="send_message",
        channel="email", payload={}, reasons=(Reason("lapsing", "Quiet for long."),),
        causing_event_id=f"e{n}", causing_event_time=n, decided_at=n, ttl_ms=None).to_record()


def test_withheld_decisions_and_events_are_served_newest_first_and_bounded(
        serving: ProfileServing) -> None:
    serving.add_verdict("nb-lisa", {**decision(1), "status": "sent"}, None)  # add_decision's
    serving.add_verdict("nb-lisa", {**decision(2), "status": "suppressed",
                                    "suppressed_by": "frequency_cap"}, "Capped.")
    serving.add_verdict("nb-lisa", {**decision(3), "status": "control"}, "Held out.")
    for n in range(RECENT_EVENTS + 5):
        serving.add_event("nb-lisa", "purchase", order(n, f"o{n}", customer=LISA))
    served(serving, "nb-lisa", LISA)
    view = asyncio.run(serving.customer("nb-lisa"))
    assert view is not None
    withheld = view["recent_withheld"]
    assert [(w["status"], w["suppressed_by"], w["verdict_text"]) for w in withheld] == [
        ("control", None, "Held out."), ("suppressed", "frequency_cap", "Capped.")]
    events = view["recent_events"]
    assert len(events) == RECENT_EVENTS
    assert events[0]["order_id"] == f"o{RECENT_EVENTS + 4}" and events[0]["family"] == "purchase"
    assert "customer" not in events[0]  # the served event names no identifiers
    assert view["recent_decisions"] == []


def test_an_erased_customer_leaves_nothing_in_redis(serving: ProfileServing) -> None:
    serving.add_event("nb-lisa", "support", support(1, "c1", "Hello", customer=LISA))
    serving.add_event("nb-lisa", "identity", identity(2, "consent_revoked", channel="sms",
                                                      customer=LISA))
    serving.add_decision("nb-lisa", decision(3))
    serving.add_verdict("nb-lisa", {**decision(4), "status": "control"}, None)
    served(serving, "nb-lisa", LISA)
    serving.drop_profile("nb-lisa")
    for key in identifier_keys(LISA):
        serving.unlink(key)
    asyncio.run(serving.flush())
    # Only the epoch that tells a Redis which lost its data from one that has it stays.
    assert asyncio.run(serving.client.keys("*")) == [serving.keys.epoch().encode()]
