"""Merging two profiles that turn out to be the same person."""

from __future__ import annotations

from nextbest.profile.shipments import merge_shipments
from nextbest.profile.state import (
    CONTACT_HISTORY,
    EMAIL_TIMES,
    ITEMS_BOUGHT,
    MESSAGE_CONTACTS,
    ORDER_TIMES,
    RECENT_DECISIONS,
    RECENT_EVENTS,
    RECENT_ORDERS,
    VISIT_ITEMS,
    CustomerProfile,
)


def merge_profiles(survivor: CustomerProfile, absorbed: CustomerProfile) -> CustomerProfile:
    """Fold ``absorbed`` into ``survivor`` (in place) and return it.

    Counts add up, histories interleave by time, and the inter-purchase gap is recomputed from the
    union of both order histories where we still hold them.

    >>> a = CustomerProfile("nb-a", orders=1, revenue=10.0, first_seen=5, last_seen=9)
    >>> b = CustomerProfile("nb-b", orders=2, revenue=30.0, first_seen=1, last_seen=7)
    >>> m = merge_profiles(a, b)
    >>> (m.orders, m.revenue, m.first_seen, m.last_seen, m.merged_from)
    (3, 40.0, 1, 9, ['nb-b'])
    """
    s, a = survivor, absorbed
    if s.first_seen == 0 or (a.first_seen and a.first_seen < s.first_seen):
        s.first_seen = a.first_seen
    s.last_seen = max(s.last_seen, a.last_seen)
    for kind, values in a.identifiers.items():
        known = s.identifiers.setdefault(kind, [])
        known.extend(v for v in values if v not in known)
    s.timezone = s.timezone or a.timezone
    s.country = s.country or a.country
    for channel, granted in a.consent.items():
        # An opt-out anywhere wins: never contact someone who said no under another identifier.
        s.consent[channel] = s.consent.get(channel, True) and granted
    _merge_orders(s, a)
    s.returns += a.returns
    s.defective_returns += a.defective_returns
    s.refunded += a.refunded
    s.discounted_orders += a.discounted_orders
    for category, weight in a.category_affinity.items():
        s.category_affinity[category] = s.category_affinity.get(category, 0.0) + weight
    s.affinity_at = max(s.affinity_at, a.affinity_at)
    for key, count in a.shopping_context.items():
        s.shopping_context[key] = s.shopping_context.get(key, 0) + count
    if a.visit_id is not None and a.visit_id == s.visit_id:  # one visit seen under two ids
        s.visit_items = [*(i for i in a.visit_items if i not in s.visit_items), *s.visit_items]
        s.visit_items = s.visit_items[-VISIT_ITEMS:]
        s.visit_at = max(s.visit_at, a.visit_at)
    elif a.visit_at > s.visit_at:
        s.visit_id, s.visit_at, s.visit_items = a.visit_id, a.visit_at, list(a.visit_items)
    s.email_opens += a.email_opens
    s.email_clicks += a.email_clicks
    s.messages_sent += a.messages_sent
    s.order_times = sorted(s.order_times + a.order_times)[-ORDER_TIMES:]
    s.email_send_times = sorted(s.email_send_times + a.email_send_times)[-EMAIL_TIMES:]
    s.email_open_times = sorted(s.email_open_times + a.email_open_times)[-EMAIL_TIMES:]
    s.email_click_times = sorted(s.email_click_times + a.email_click_times)[-EMAIL_TIMES:]
    bought = [i for i in a.items_bought if i not in s.items_bought]
    s.items_bought = (bought + s.items_bought)[-ITEMS_BOUGHT:]
    for item, times in a.shown.items():
        s.shown[item] = s.shown.get(item, 0) + times
    if s.sentiment is None:
        s.sentiment = a.sentiment
    s.support_contacts = sorted(s.support_contacts + a.support_contacts)[-CONTACT_HISTORY:]
    if s.conversation is None or (
        a.conversation is not None and a.conversation.opened_at > s.conversation.opened_at
    ):
        s.conversation = a.conversation
    s.reviews += a.reviews
    s.last_review_rating = s.last_review_rating or a.last_review_rating
    seen = {line.item_id for line in s.cart}
    s.cart.extend(line for line in a.cart if line.item_id not in seen)
    s.shipments = merge_shipments(s.shipments, a.shipments)
    s.sent.update(a.sent)
    s.contacts = sorted(s.contacts + a.contacts)[-MESSAGE_CONTACTS:]
    held = {h["record"]["decision_id"] for h in s.held}
    # Decisions waiting for the absorbed customer are the survivor's now: released, they go
    # out under the survivor's id (the absorbed one only leads to a tombstone).
    s.held.extend({**h, "record": {**h["record"], "customer_id": s.customer_id}}
                  for h in a.held if h["record"]["decision_id"] not in held)
    open_ids = {e["id"] for e in s.exposures}
    s.exposures.extend(e for e in a.exposures if e["id"] not in open_ids)
    complaints = [t for t in (s.last_complaint_at, a.last_complaint_at) if t is not None]
    s.last_complaint_at = max(complaints, default=None)
    for key, at in a.due.items():  # timers the policies do not re-arm from facts
        if key in ("held", "attribution"):
            s.due[key] = min(at, s.due.get(key, at))
    s.recent_decisions = sorted(
        s.recent_decisions + a.recent_decisions, key=lambda d: d["decided_at"]
    )[-RECENT_DECISIONS:]
    s.recent_event_ids = (s.recent_event_ids + a.recent_event_ids)[-RECENT_EVENTS:]
    s.merged_from = [*s.merged_from, a.customer_id, *a.merged_from]
    return s


def _merge_orders(s: CustomerProfile, a: CustomerProfile) -> None:
    total_orders = s.orders + a.orders
    firsts = [t for t in (s.first_order_at, a.first_order_at) if t is not None]
    lasts = [t for t in (s.last_order_at, a.last_order_at) if t is not None]
    s.first_order_at = min(firsts, default=None)
    s.last_order_at = max(lasts, default=None)
    s.gap_count, s.gap_mean_ms = 0, 0.0
    if total_orders >= 2 and s.first_order_at is not None and s.last_order_at is not None:
        span = s.last_order_at - s.first_order_at
        if span > 0:
            s.gap_count = total_orders - 1
            s.gap_mean_ms = span / s.gap_count
    s.orders = total_orders
    s.revenue += a.revenue
    s.recent_orders = sorted(s.recent_orders + a.recent_orders, key=lambda o: o.time)[
        -RECENT_ORDERS:
    ]
