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
