"""Splitting a merged profile (nextbest.profile.split): what a merge folded in comes back out."""

from __future__ import annotations

import pytest

from nextbest.driver import CustomerPartition
from nextbest.engine import Engine
from nextbest.profile.merge import merge_profiles
from nextbest.profile.split import restored, separate_profiles
from nextbest.profile.state import CustomerProfile
from tests.events import DAY, MINUTE, click, order, policy_settings, review, support

TAKEN_BACK = (
    "identifiers", "orders", "revenue", "first_order_at", "last_order_at", "gap_count",
    "gap_mean_ms", "recent_orders", "returns", "defective_returns", "refunded",
    "discounted_orders", "shopping_context", "email_opens", "email_clicks", "messages_sent",
    "order_times", "email_send_times", "email_open_times", "email_click_times",
    "support_contacts", "reviews", "cart", "contacts", "recent_decisions",
    "recent_event_ids", "merged_from",
)


def history(start: int, name: str) -> CustomerProfile:
    """A profile with orders, a defective return, a support conversation, a review, a cart and
    the decisions they earned, stepped by the engine."""
    partition = CustomerPartition(Engine(policy_settings()))
    who = {"email": f"{name}@example.com", "phone": f"+49{len(name)}"}
    cid = f"nb-{name}"
    events = [
        ("purchase", order(start, f"{name}-1", total=30.0, category=f"{name}-cat", customer=who)),
        ("purchase", order(start + 9 * DAY, f"{name}-2", total=50.0, item_id=f"{name}-item",
                           customer=who)),
        ("purchase", order(start + 10 * DAY, f"{name}-2", total=50.0, kind="return",
                           reason="defective", customer=who)),
        ("support", support(start + 11 * DAY, f"{name}-c", "Where is my parcel?", customer=who)),
        ("review", review(start + 12 * DAY, f"{name}-item", 4, "Fine.", customer=who)),
        ("clickstream", click(start + 13 * DAY, "add_to_cart", item_id=f"{name}-cart",
                              category=f"{name}-cat", price=20.0, customer=who)),
    ]
    for family, event in events:
        partition.step(cid, family, event)
    partition.advance(start + 13 * DAY + 40 * MINUTE)
    profile = partition.profiles.get(cid)
    assert profile is not None and profile.recent_decisions and profile.cart
    return profile


@pytest.mark.parametrize("survivor_first", [True, False])
def test_what_a_merge_folded_in_comes_back_out(survivor_first: bool) -> None:
    early, late = history(0, "anna"), history(3 * DAY, "bert")
    survivor, absorbed = (early, late) if survivor_first else (late, early)
    before = survivor.to_dict()
    merged = merge_profiles(CustomerProfile.from_dict(before),
                            CustomerProfile.from_dict(absorbed.to_dict()))
    assert merged.orders == 4 and merged.merged_from == [absorbed.customer_id]

    taken = CustomerProfile.from_dict(absorbed.to_dict())
    separated = separate_profiles(merged, taken).to_dict()

    for name in TAKEN_BACK:
        assert separated[name] == before[name], name
    assert separated["category_affinity"] == pytest.approx(before["category_affinity"])
    # The merge kept the newer conversation of the two: the survivor's own, when it was the
    # older one, was gone with the merge; the absorbed one's goes back with it.
    assert separated["conversation"] == (before["conversation"] if survivor_first is False
                                         else None)


def test_the_restored_profile_leaves_waiting_decisions_and_windows_with_the_survivor() -> None:
    profile = history(0, "cleo")
    profile.held = [{"release_at": 5, "rule": "quiet_hours", "record": {"decision_id": "d1"}}]
    profile.exposures = [{"id": "d2", "until": 9}]
    profile.due.update({"held": 5, "attribution": 9, "winback": 99})
    profile.merged_into = "nb-other"

    back = restored(profile)

    assert back.merged_into is None and back.held == [] and back.exposures == []
    assert back.due == {"winback": 99} and back.orders == 2
