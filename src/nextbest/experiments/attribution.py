"""Attribution: what happened after each marketing decision, sent or held out.

Every marketing decision the guardrails let through (``sent``) or held out (``control``) opens an
**exposure** on the profile for ``attribution_window_days``. Orders in that window count for it
(an order carrying its ``decision_id`` is a redemption); offer views and clicks carrying the id
are noted. When the window closes, the exposure becomes an :class:`Outcome`: the reward of the
offer bandit, and the unit ``nextbest report uplift`` compares between arms. Control exposures
are counted exactly like sent ones, which is what makes the comparison fair.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nextbest.decisions.record import Decision
from nextbest.profile.state import CustomerProfile

DUE_KEY = "attribution"
OPEN_EXPOSURES = 30
"""Exposures a profile keeps open at most (the oldest closes early when more arrive)."""
ENGAGEMENT = {"offer_viewed": "viewed", "email_open": "viewed", "push_open": "viewed",
              "offer_clicked": "clicked", "email_click": "clicked"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One closed exposure: the decision, its arm, and what followed within the window."""

    decision_id: str
    decision_type: str
    customer_id: str
    experiment_arm: str
    sent: bool
    decided_at: int
    closed_at: int
    orders: int
    revenue: float
    redeemed: bool
    viewed: bool
    clicked: bool
    offer_id: str | None = None
    context: dict[str, float] | None = None
    """The offer bandit's context at decision time (not published)."""

    @property
    def converted(self) -> bool:
        return self.orders > 0

    def to_record(self) -> dict[str, Any]:
        """The Avro-shaped dict of ``schemas/outcome.avsc``."""
        record = asdict(self)
        del record["context"]
        record["converted"] = self.converted
        record["revenue"] = round(self.revenue, 2)
        return record


def expose(
    profile: CustomerProfile, decision: Decision, *, sent: bool, now: int, window_ms: int
) -> list[Outcome]:
    """Open an exposure for ``decision``; returns exposures closed early to stay bounded."""
    offer = decision.payload.get("offer")
    profile.exposures.append({
        "id": decision.decision_id,
        "type": decision.decision_type,
        "arm": decision.experiment_arm or "treatment",
        "sent": sent,
        "at": now,
        "until": now + window_ms,
        "offer": offer.get("offer_id") if isinstance(offer, dict) else None,
        "ctx": offer.get("context") if isinstance(offer, dict) else None,
        "orders": 0,
        "revenue": 0.0,
        "redeemed": False,
        "viewed": False,
        "clicked": False,
    })
    closed = []
    while len(profile.exposures) > OPEN_EXPOSURES:
        closed.append(_outcome(profile, profile.exposures.pop(0), now))
    _arm(profile)
    return closed


def credit(profile: CustomerProfile, family: str, event: dict[str, Any]) -> None:
    """Count an order or an engagement event towards the open exposures it falls in."""
    if not profile.exposures:
        return
    now = int(event["event_time"])
    decision_id = event.get("decision_id")
    if family == "purchase" and event["kind"] == "order":
        for exposure in profile.exposures:
            if exposure["at"] <= now < exposure["until"]:
                exposure["orders"] += 1
                exposure["revenue"] += float(event["total"])
                exposure["redeemed"] = exposure["redeemed"] or decision_id == exposure["id"]
    elif family == "clickstream" and decision_id and event["action"] in ENGAGEMENT:
        flag = ENGAGEMENT[event["action"]]
        for exposure in profile.exposures:
            if exposure["id"] == decision_id:
                exposure[flag] = True


def close_due(profile: CustomerProfile, now: int) -> list[Outcome]:
    """Outcomes of the exposures whose window has passed at event time ``now``."""
    done = [e for e in profile.exposures if e["until"] <= now]
    if not done:
        return []
    profile.exposures = [e for e in profile.exposures if e["until"] > now]
    _arm(profile)
    return [_outcome(profile, e, e["until"]) for e in done]


def _arm(profile: CustomerProfile) -> None:
    if profile.exposures:
        profile.due[DUE_KEY] = min(e["until"] for e in profile.exposures)
    else:
        profile.due.pop(DUE_KEY, None)


def _outcome(profile: CustomerProfile, e: dict[str, Any], closed_at: int) -> Outcome:
    return Outcome(
        decision_id=e["id"], decision_type=e["type"], customer_id=profile.customer_id,
        experiment_arm=e["arm"], sent=e["sent"], decided_at=e["at"], closed_at=closed_at,
        orders=e["orders"], revenue=e["revenue"], redeemed=e["redeemed"], viewed=e["viewed"],
        clicked=e["clicked"], offer_id=e["offer"], context=e["ctx"],
    )
