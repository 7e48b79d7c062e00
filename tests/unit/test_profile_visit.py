"""The profile keeps the customer's latest visit: what they look for now, for recommendations."""

from __future__ import annotations

from typing import Any

from nextbest.profile.merge import merge_profiles
from nextbest.profile.state import VISIT_RELEVANT_MS, CustomerProfile
from nextbest.profile.update import apply_event
from tests.events import click


def seen(time: int, item: str, session: str, action: str = "product_view") -> dict[str, Any]:
    event = click(time, action, item_id=item, category="shoes")
    event["context"] = {"device": "mobile", "channel": "web", "country": "DE",
                        "timezone": "Europe/Berlin", "session_id": session}
    return event


def test_a_visit_remembers_its_items_and_a_new_visit_starts_afresh() -> None:
    profile = CustomerProfile("nb-1")
    for time, item in ((1, "boots"), (2, "sandals"), (3, "boots")):
        apply_event(profile, "clickstream", seen(time, item, "S-1"))
    apply_event(profile, "clickstream", seen(4, "runners", "S-1", "add_to_cart"))
    assert profile.current_visit(4) == ["sandals", "boots", "runners"]
    apply_event(profile, "clickstream", seen(10, "lamp", "S-2"))
    apply_event(profile, "clickstream", seen(5, "boots", "S-1"))  # late, of the visit before
    assert profile.current_visit(10) == ["lamp"]


def test_a_visit_stops_counting_a_day_after_its_last_event() -> None:
    profile = CustomerProfile("nb-1")
    apply_event(profile, "clickstream", seen(1_000, "boots", "S-1"))
    assert profile.current_visit(1_000 + VISIT_RELEVANT_MS) == ["boots"]
    assert profile.current_visit(1_001 + VISIT_RELEVANT_MS) == []


def test_a_visit_seen_under_a_device_and_a_login_is_one_visit_after_the_merge() -> None:
    device, account = CustomerProfile("nb-device"), CustomerProfile("nb-account")
    apply_event(device, "clickstream", seen(1, "boots", "S-1"))
    apply_event(account, "clickstream", seen(2, "sandals", "S-1"))
    merged = merge_profiles(account, device)
    assert merged.current_visit(2) == ["boots", "sandals"]
