"""The served view of a profile: what a web shop or a support desk reads from Redis."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS


def scores(profile: CustomerProfile, now: int) -> dict[str, float | None]:
    """Descriptive scores from the profile alone (models add theirs later).

    ``lapse_ratio`` is the current silence over the customer's own usual gap: above 1 means
    later than usual.

    >>> p = CustomerProfile("c", orders=3, revenue=90.0, gap_count=2, gap_mean_ms=10 * DAY_MS,
    ...                     last_order_at=0)
    >>> scores(p, 15 * DAY_MS)["lapse_ratio"]
    1.5
    """
    silence = (now - profile.last_order_at) if profile.last_order_at is not None else None
    gap = profile.usual_gap_ms
    return {
        "recency_days": round(silence / DAY_MS, 2) if silence is not None else None,
        "frequency": float(profile.orders),
        "monetary": round(profile.revenue, 2),
        "average_order_value": (
            round(profile.revenue / profile.orders, 2) if profile.orders else None
        ),
        "usual_gap_days": round(gap / DAY_MS, 2) if gap else None,
        "lapse_ratio": round(silence / gap, 3) if gap and silence is not None else None,
        "email_click_rate": (
            round(profile.email_clicks / profile.email_opens, 3) if profile.email_opens else None
        ),
    }


INTERNAL = ("sent", "recent_event_ids", "due", "affinity_at", "held", "exposures")
"""Profile fields the engine keeps for itself and does not serve."""
SERVED = tuple(f.name for f in fields(CustomerProfile) if f.name not in INTERNAL)


def snapshot(profile: CustomerProfile) -> dict[str, Any]:
    """The served view: the profile without its internal fields, and its scores.

    >>> view = snapshot(CustomerProfile("c", orders=2, revenue=50.0))
    >>> view["profile"]["orders"], "sent" in view["profile"], view["scores"]["monetary"]
    (2, False, 50.0)
    """
    data: dict[str, Any] = orjson.loads(snapshot_json(profile))
    return data


def snapshot_json(profile: CustomerProfile) -> bytes:
    """:func:`snapshot` serialised, in one pass (nested dataclasses serialise natively)."""
    served = {name: getattr(profile, name) for name in SERVED}
    return orjson.dumps({"profile": served, "scores": {
        **scores(profile, profile.last_seen), **profile.scores, "sentiment": profile.sentiment}})


EVENT_FIELDS = ("action", "kind", "item_id", "category", "price", "order_id", "total",
                "currency", "channel", "return_reason", "decision_id", "conversation_id",
                "author", "refund_requested", "review_id", "rating", "source",
                "consent_channel", "promised_delivery", "expected_delivery", "delay_reason",
                "carrier")
"""What a served event keeps: what happened and to what, never the customer reference."""
EVENT_TEXT_CHARS = 160


def event_summary(family: str, event: dict[str, Any]) -> dict[str, Any]:
    """A customer event as the read model serves it on the customer's timeline: the facts of
    what happened, an order's categories and the first characters of a text.

    >>> served = event_summary("review", {"event_id": "e1", "event_time": 5, "rating": 2,
    ...                                   "customer": {"email": "x"}, "text": "Too small"})
    >>> served["time"], served["rating"], served["text"], "customer" in served
    (5, 2, 'Too small', False)
    """
    summary: dict[str, Any] = {"family": family, "event_id": event["event_id"],
                               "time": int(event["event_time"])}
    for name in EVENT_FIELDS:
        value = event.get(name)
        if value is not None:
            summary[name] = value
    lines = event.get("lines")
    if lines:
        summary["categories"] = list(dict.fromkeys(
            line["category"] for line in lines if line.get("category")))
        summary["items"] = sum(int(line.get("quantity") or 1) for line in lines)
    text = event.get("text")
    if text:
        summary["text"] = text[:EVENT_TEXT_CHARS] + ("…" if len(text) > EVENT_TEXT_CHARS else "")
    return summary
