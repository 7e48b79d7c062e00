"""The customer's timeline: their recent events and the decisions made about them, sent or not,
newest first, from the served view's bounded lists (``streams/serving.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

ACTIONS = {
    "page_view": "Page view", "product_view": "Product view", "search": "Search",
    "add_to_cart": "Added to cart", "remove_from_cart": "Removed from cart",
    "checkout_started": "Checkout started", "cart_abandoned": "Cart abandoned",
    "email_open": "Email opened", "email_click": "Email clicked", "push_open": "Push opened",
    "offer_viewed": "Offer viewed", "offer_clicked": "Offer clicked",
}
SUPPORT = {"opened": "Conversation opened", "message": "Support message",
           "resolved": "Conversation resolved", "escalated": "Conversation escalated"}
IDENTITY = {"link": "Identifiers linked", "consent_granted": "Consent granted",
            "consent_revoked": "Consent revoked", "erasure_requested": "Erasure requested",
            "profile_updated": "Profile updated"}
PURCHASE = {"order": "Order", "return": "Return", "refund": "Refund"}
FULFILMENT = {"shipped": "shipped", "delayed": "delayed", "delivered": "delivered"}


@dataclass(frozen=True)
class Verdict:
    """What became of a decision: ``status`` sent, control (held out), suppressed or deferred."""

    status: str
    label: str
    rule: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Entry:
    time: int
    kind: str
    """``event`` or ``decision``."""
    title: str
    details: list[str] = field(default_factory=list)
    text: str | None = None
    """A customer's own words (a message, a review), shown as a quote."""
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    """The decision's "why this", in words."""
    scores: dict[str, Any] = field(default_factory=dict)
    cause: str | None = None
    """The title of the event that caused the decision, when it is on the timeline too."""
    decision_id: str | None = None


def timeline(view: dict[str, Any]) -> list[Entry]:
    """Events, decisions sent and decisions withheld, newest first (a decision above the event
    that caused it). A verdict logged twice (a replay after a crash) shows once."""
    events = {e["event_id"]: event_entry(e) for e in view.get("recent_events") or ()}
    seen: set[tuple[str, str]] = set()
    decisions = []
    for record in (*(view.get("recent_decisions") or ()), *(view.get("recent_withheld") or ())):
        key = (record["decision_id"], record.get("status") or "sent")
        if key not in seen:
            seen.add(key)
            cause = events.get(record.get("causing_event_id") or "")
            decisions.append(decision_entry(record, cause.title if cause else None))
    entries = [*events.values(), *decisions]
    return sorted(entries, key=lambda e: (e.time, e.kind == "decision"), reverse=True)


def event_entry(event: dict[str, Any]) -> Entry:
    family, kind = event["family"], event.get("kind") or event.get("action") or "other"
    details: list[str] = []
    if family == "clickstream":
        title = ACTIONS.get(kind, kind.replace("_", " ").capitalize())
        details += [v for v in (event.get("item_id"), event.get("category")) if v]
        if event.get("price") is not None:
            details.append(f"{event['price']:.2f}")
    elif family == "purchase":
        title = f"{PURCHASE.get(kind, 'Purchase')} {event.get('order_id', '')}".strip()
        if event.get("total") is not None:
            details.append(f"{event['total']:.2f} {event.get('currency') or ''}".strip())
        details += [*event.get("categories", ()), event.get("channel") or ""]
        if event.get("return_reason"):
            details.append(f"reason: {event['return_reason'].replace('_', ' ')}")
    elif family == "support":
        title = SUPPORT.get(kind, "Support")
        details += [event.get("author") or "", event.get("channel") or ""]
        if event.get("refund_requested"):
            details.append(f"refund requested: {event['refund_requested']:.2f}")
    elif family == "review":
        title = f"Review, {event.get('rating', '?')} of 5 stars"
        details += [event.get("item_id") or "", event.get("source") or ""]
    elif family == "fulfilment":
        title = f"Order {event.get('order_id', '')} {FULFILMENT.get(kind, 'fulfilment')}"
        details += [event.get("carrier") or ""]
        for name, label in (("promised_delivery", "promised"), ("expected_delivery", "expected")):
            if event.get(name):
                details.append(f"{label} {day(event[name])}")
        if event.get("delay_reason"):
            details.append(f"reason: {event['delay_reason']}")
    elif family == "identity":
        title = IDENTITY.get(kind, "Identity")
        if event.get("consent_channel"):
            details.append(event["consent_channel"])
    else:
        title = f"{family} {kind}"
    return Entry(int(event["time"]), "event", title, [d for d in details if d],
                 text=event.get("text"))


def day(ms: int) -> str:
    """An epoch-ms moment as its UTC calendar day (``2026-12-04``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def verdict_of(record: dict[str, Any]) -> Verdict:
    status, rule = record.get("status") or "sent", record.get("suppressed_by")
    text = record.get("verdict_text")
    arm = record.get("experiment_arm")
    if status == "sent":
        label = f"sent ({arm} arm)" if arm else "sent"
    elif status == "control":
        label = "held out (holdout group)" if arm == "holdout" else f"held out ({arm} arm)"
    elif status == "suppressed":
        label = f"suppressed by {rule}"
    elif status == "deferred":
        label = f"deferred by {rule}"
    else:
        label = status
    return Verdict(status, label, rule, text)


def decision_entry(record: dict[str, Any], cause: str | None = None) -> Entry:
    details = [record.get("action") or ""]
    if record.get("channel"):
        details.append(f"via {record['channel']}")
    offer = payload_of(record).get("offer")
    if isinstance(offer, dict) and offer.get("title"):
        details.append(f"offer: {offer['title']}")
    return Entry(
        int(record["decided_at"]), "decision",
        record["decision_type"].replace("_", " ").capitalize(), [d for d in details if d],
        verdict=verdict_of(record),
        reasons=[r["text"] for r in record.get("reasons") or () if r.get("text")],
        scores={k: v for k, v in (record.get("scores") or {}).items() if v is not None},
        cause=cause, decision_id=record["decision_id"])


def payload_of(record: dict[str, Any]) -> dict[str, Any]:
    payload = record.get("payload")
    if isinstance(payload, str | bytes):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return {}
    return payload if isinstance(payload, dict) else {}
