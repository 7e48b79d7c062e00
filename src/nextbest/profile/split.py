"""Splitting a merged profile: the reverse of ``profile/merge.py``, as far as it goes.

When a merge is undone, the absorbed customer's profile comes back as it was at the merge (its
partition kept it, see ``CustomerPartition.merge_out``), and what it brought is taken out of the
survivor again where that can be told apart:

* taken back out: the absorbed customer's identifiers, order, return, refund, email and review
  counts, revenue, order and contact times, recent orders, support contacts, the open
  conversation it brought, cart lines, shipments, recent decisions and event ids, its category
  affinity (decayed as the survivor's was since, approximately: the merge time is not kept),
  where the customer shops, and the merge itself (``merged_from``);
* left with the survivor: consent (an opt-out given under either identity stays in force),
  time zone and country, items bought and items shown, decisions waiting for a guardrail and
  open attribution windows (the survivor has been deciding them since), decisions already
  decided on (so neither side sends one twice), sentiment, and everything either customer did
  while they were merged - those events were stepped on one profile and cannot be told apart;
* lost: the survivor's own conversation when the merge kept the absorbed one's newer one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import TypeVar

from nextbest.profile.state import CustomerProfile
from nextbest.profile.update import AFFINITY_HALF_LIFE_MS

T = TypeVar("T")

HANDED_OVER = ("held", "attribution")
"""Timers the merge handed to the survivor with what they wake (``profile/merge.py``)."""


def restored(snapshot: CustomerProfile) -> CustomerProfile:
    """The absorbed customer's profile as it was at the merge, a customer of its own again.
    Decisions waiting and attribution windows went to the survivor with the merge and stay
    there (one place decides them)."""
    snapshot.merged_into = None
    snapshot.held = []
    snapshot.exposures = []
    for key in HANDED_OVER:
        snapshot.due.pop(key, None)
    return snapshot


def separate_profiles(survivor: CustomerProfile, absorbed: CustomerProfile) -> CustomerProfile:
    """Take what ``absorbed`` (its profile at the merge) brought out of ``survivor`` (in place).

    >>> s = CustomerProfile("nb-a", orders=3, revenue=40.0, order_times=[1, 5, 9],
    ...                     identifiers={"email": ["a@x", "b@x"]}, merged_from=["nb-b"])
    >>> b = CustomerProfile("nb-b", orders=1, revenue=30.0, order_times=[5],
    ...                     identifiers={"email": ["b@x"]})
    >>> s = separate_profiles(s, b)
    >>> (s.orders, s.revenue, s.order_times, s.identifiers, s.merged_from)
    (2, 10.0, [1, 9], {'email': ['a@x']}, [])
    """
    s, a = survivor, absorbed
    for kind, values in a.identifiers.items():
        kept = [v for v in s.identifiers.get(kind, []) if v not in values]
        if kept:
            s.identifiers[kind] = kept
        else:
            s.identifiers.pop(kind, None)
    _separate_orders(s, a)
    s.returns = max(0, s.returns - a.returns)
    s.defective_returns = max(0, s.defective_returns - a.defective_returns)
    s.refunded = max(0.0, s.refunded - a.refunded)
    s.discounted_orders = max(0, s.discounted_orders - a.discounted_orders)
    _separate_affinity(s, a)
    for key, count in a.shopping_context.items():
        left = s.shopping_context.get(key, 0) - count
        if left > 0:
            s.shopping_context[key] = left
        else:
            s.shopping_context.pop(key, None)
    if a.visit_id is not None and s.visit_id == a.visit_id:
        s.visit_items = [i for i in s.visit_items if i not in a.visit_items]
    s.email_opens = max(0, s.email_opens - a.email_opens)
    s.email_clicks = max(0, s.email_clicks - a.email_clicks)
    s.messages_sent = max(0, s.messages_sent - a.messages_sent)
    s.reviews = max(0, s.reviews - a.reviews)
    s.email_send_times = _without(s.email_send_times, a.email_send_times)
    s.email_open_times = _without(s.email_open_times, a.email_open_times)
    s.email_click_times = _without(s.email_click_times, a.email_click_times)
    s.support_contacts = _without(s.support_contacts, a.support_contacts)
    s.contacts = _without(s.contacts, a.contacts)
    if (s.conversation is not None and a.conversation is not None
            and s.conversation.conversation_id == a.conversation.conversation_id):
        s.conversation = None
    brought = {line.event_id for line in a.cart}
    s.cart = [line for line in s.cart if line.event_id not in brought]
    shipped = {x.order_id for x in a.shipments}
    s.shipments = [x for x in s.shipments if x.order_id not in shipped]
    decided = {d["decision_id"] for d in a.recent_decisions}
    s.recent_decisions = [d for d in s.recent_decisions if d["decision_id"] not in decided]
    seen = set(a.recent_event_ids)
    s.recent_event_ids = [e for e in s.recent_event_ids if e not in seen]
    gone = {a.customer_id, *a.merged_from}
    s.merged_from = [c for c in s.merged_from if c not in gone]
    return s


def _separate_orders(s: CustomerProfile, a: CustomerProfile) -> None:
    s.orders = max(0, s.orders - a.orders)
    s.revenue = max(0.0, s.revenue - a.revenue)
    s.order_times = _without(s.order_times, a.order_times)
    theirs = {o.order_id for o in a.recent_orders}
    s.recent_orders = [o for o in s.recent_orders if o.order_id not in theirs]
    # The order span: where it was the absorbed customer's, from the order times that remain;
    # the usual gap over it, as the merge computed it over both.
    if not s.orders:
        s.first_order_at = s.last_order_at = None
    else:
        if s.first_order_at == a.first_order_at:
            s.first_order_at = min(s.order_times, default=None)
        if s.last_order_at == a.last_order_at:
            s.last_order_at = max(s.order_times, default=None)
    s.gap_count, s.gap_mean_ms = 0, 0.0
    if s.orders >= 2 and s.first_order_at is not None and s.last_order_at is not None:
        span = s.last_order_at - s.first_order_at
        if span > 0:
            s.gap_count = s.orders - 1
            s.gap_mean_ms = span / s.gap_count


def _separate_affinity(s: CustomerProfile, a: CustomerProfile) -> None:
    """The merge added the absorbed weights as they were; the survivor's have decayed since
    at most from the absorbed profile's last affinity (so at most that much is taken)."""
    decay = 1.0
    if a.affinity_at and s.affinity_at > a.affinity_at:
        decay = math.exp(-math.log(2) * (s.affinity_at - a.affinity_at) / AFFINITY_HALF_LIFE_MS)
    for category, weight in a.category_affinity.items():
        left = s.category_affinity.get(category, 0.0) - weight * decay
        if left > 1e-6 * weight:
            s.category_affinity[category] = left
        else:
            s.category_affinity.pop(category, None)


def _without(items: list[T], taken: Iterable[T]) -> list[T]:
    """``items`` less one occurrence of each of ``taken`` (order kept)."""
    left = Counter(_hashable(t) for t in taken)
    kept = []
    for item in items:
        key = _hashable(item)
        if left[key] > 0:
            left[key] -= 1
        else:
            kept.append(item)
    return kept


def _hashable(item: object) -> object:
    return tuple(item) if isinstance(item, list) else item
