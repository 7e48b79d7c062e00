"""How each event family changes a customer's profile (pure functions, event time only)."""

from __future__ import annotations

import math
from typing import Any

from nextbest.profile.shipments import apply_fulfilment
from nextbest.profile.state import (
    CONTACT_HISTORY,
    CONVERSATION_MESSAGES,
    EMAIL_TIMES,
    ITEMS_BOUGHT,
    ORDER_TIMES,
    RECENT_ORDERS,
    VISIT_ITEMS,
    CartLine,
    Conversation,
    CustomerProfile,
    Message,
    OrderSummary,
)

AFFINITY_HALF_LIFE_MS = 30 * 86_400_000
AFFINITY_WEIGHTS = {"product_view": 1.0, "add_to_cart": 2.0, "order": 4.0, "review": 1.0}
SHOPPING_ACTIONS = frozenset({"page_view", "product_view", "search", "add_to_cart",
                              "remove_from_cart", "checkout_started"})
"""Actions that show where the customer shops (a message opened on a phone does not)."""
VISIT_ACTIONS = frozenset({"product_view", "add_to_cart"})
"""Actions whose item tells what the customer looks for in this visit."""
IDENTIFIER_KINDS = ("customer_id", "email", "phone", "device_id", "loyalty_id", "pos_id")
MAX_IDENTIFIERS_PER_KIND = 5
BUSINESS_FAMILIES = frozenset({"fulfilment"})
"""Events of what the business did (a parcel shipped): they do not show the customer is around,
so they leave ``last_seen`` - the silence a win-back waits for - as it was."""


def apply_event(profile: CustomerProfile, family: str, event: dict[str, Any]) -> None:
    """Fold one decoded event into the profile, in place."""
    now = int(event["event_time"])
    if profile.first_seen == 0 or now < profile.first_seen:
        profile.first_seen = now
    if family not in BUSINESS_FAMILIES:
        profile.last_seen = max(profile.last_seen, now)
    _remember_identifiers(profile, event.get("customer"))
    updater = _UPDATERS.get(family)
    if updater is not None:
        updater(profile, event, now)


def add_affinity(profile: CustomerProfile, category: str | None, weight: float, now: int) -> None:
    """Exponentially decayed interest per category: recent behaviour counts most."""
    if not category:
        return
    if profile.affinity_at and now > profile.affinity_at:
        decay = math.exp(-math.log(2) * (now - profile.affinity_at) / AFFINITY_HALF_LIFE_MS)
        for key in profile.category_affinity:
            profile.category_affinity[key] *= decay
    profile.affinity_at = max(profile.affinity_at, now)
    profile.category_affinity[category] = profile.category_affinity.get(category, 0.0) + weight


def remember_time(times: list[int], now: int, keep: int) -> None:
    times.append(now)
    if len(times) > 1 and times[-2] > now:  # late event: keep the list in time order
        times.sort()
    del times[:-keep]


def _remember_identifiers(profile: CustomerProfile, ref: dict[str, Any] | None) -> None:
    if not ref:
        return
    for kind in IDENTIFIER_KINDS:
        value = ref.get(kind)
        if value:
            known = profile.identifiers.setdefault(kind, [])
            if value not in known:
                known.append(value)
                del known[:-MAX_IDENTIFIERS_PER_KIND]


def _clickstream(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    action = event["action"]
    item_id = event.get("item_id")
    if action in AFFINITY_WEIGHTS:
        add_affinity(profile, event.get("category"), AFFINITY_WEIGHTS[action], now)
    if action == "product_view":
        profile.views_since_order += 1
    if action == "add_to_cart" and item_id:
        profile.cart = [line for line in profile.cart if line.item_id != item_id]
        profile.cart.append(
            CartLine(item_id, event.get("category"), event.get("price"), now, event["event_id"])
        )
    elif action == "remove_from_cart" and item_id:
        profile.cart = [line for line in profile.cart if line.item_id != item_id]
    elif action == "email_open":
        profile.email_opens += 1
        remember_time(profile.email_open_times, now, EMAIL_TIMES)
    elif action == "email_click":
        profile.email_clicks += 1
        remember_time(profile.email_click_times, now, EMAIL_TIMES)
    context = event.get("context") or {}
    if context.get("timezone") and not profile.timezone:
        profile.timezone = context["timezone"]
    if context.get("country") and not profile.country:
        profile.country = context["country"]
    if action in SHOPPING_ACTIONS:
        for name in ("device", "channel"):
            if context.get(name):
                key = f"{name}:{context[name]}"
                profile.shopping_context[key] = profile.shopping_context.get(key, 0) + 1
    if action in VISIT_ACTIONS and item_id and context.get("session_id"):
        _remember_visit(profile, context["session_id"], item_id, now)


def _remember_visit(profile: CustomerProfile, session_id: str, item_id: str, now: int) -> None:
    if session_id != profile.visit_id:
        if now < profile.visit_at:
            return  # a late event of an earlier visit
        profile.visit_id, profile.visit_items = session_id, []
    profile.visit_at = max(profile.visit_at, now)
    if item_id in profile.visit_items:
        profile.visit_items.remove(item_id)
    profile.visit_items.append(item_id)
    del profile.visit_items[:-VISIT_ITEMS]


def _purchase(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    kind = event["kind"]
    lines = event.get("lines") or []
    if kind == "order":
        if profile.last_order_at is not None and now > profile.last_order_at:
            gap = now - profile.last_order_at
            profile.gap_count += 1
            profile.gap_mean_ms += (gap - profile.gap_mean_ms) / profile.gap_count
        profile.orders += 1
        profile.views_since_order = 0
        profile.revenue += float(event["total"])
        profile.discounted_orders += bool(event.get("discount_codes"))
        if profile.first_order_at is None:
            profile.first_order_at = now
        profile.last_order_at = max(profile.last_order_at or now, now)
        categories = [c for c in dict.fromkeys(line.get("category") for line in lines) if c]
        items = [line["item_id"] for line in lines]
        profile.recent_orders.append(
            OrderSummary(event["order_id"], now, float(event["total"]), event["channel"], items,
                         categories)
        )
        del profile.recent_orders[:-RECENT_ORDERS]
        remember_time(profile.order_times, now, ORDER_TIMES)
        for item in items:
            if item in profile.items_bought:
                profile.items_bought.remove(item)
            profile.items_bought.append(item)
        del profile.items_bought[:-ITEMS_BOUGHT]
        for line in lines:
            add_affinity(profile, line.get("category"), AFFINITY_WEIGHTS["order"], now)
        bought = set(items)
        profile.cart = [line for line in profile.cart if line.item_id not in bought]
    elif kind in ("return", "refund"):
        profile.returns += kind == "return"
        profile.refunded += float(event["total"]) if kind == "refund" else 0.0
        if event.get("return_reason") == "defective" and kind == "return":
            profile.defective_returns += 1


def _support(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    kind = event["kind"]
    conversation_id = event["conversation_id"]
    current = profile.conversation
    if current is None or current.conversation_id != conversation_id:
        current = Conversation(conversation_id, event["channel"], now, event.get("order_id"))
        profile.conversation = current
        if event["author"] == "customer" or kind == "opened":
            profile.support_contacts.append(now)
            del profile.support_contacts[:-CONTACT_HISTORY]
    if event.get("order_id") and not current.order_id:
        current.order_id = event["order_id"]
    if event.get("text"):
        current.messages.append(Message(now, event["author"], event["text"]))
        del current.messages[:-CONVERSATION_MESSAGES]
    if kind == "resolved":
        current.resolved = True


def _review(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    profile.reviews += 1
    profile.last_review_rating = int(event["rating"])


def _identity(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    kind = event["kind"]
    channel = event.get("consent_channel")
    if kind in ("consent_granted", "consent_revoked") and channel:
        profile.consent[channel] = kind == "consent_granted"
    if event.get("timezone"):
        profile.timezone = event["timezone"]
    if event.get("country"):
        profile.country = event["country"]


def _fulfilment(profile: CustomerProfile, event: dict[str, Any], now: int) -> None:
    apply_fulfilment(profile, event)


_UPDATERS = {
    "clickstream": _clickstream,
    "purchase": _purchase,
    "support": _support,
    "review": _review,
    "identity": _identity,
    "fulfilment": _fulfilment,
}
