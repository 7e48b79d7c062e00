"""What every decision policy looks like, and the context it decides in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from nextbest.decisions.record import Decision
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

if TYPE_CHECKING:
    from nextbest.models.suite import ModelSuite, Observation


@dataclass(frozen=True, slots=True)
class Trigger:
    """What woke the engine: an event (``family`` and ``event`` set) or the clock (both None).

    ``models`` are the engine's online models, for policies that recommend or score;
    ``observation`` is what the models said about this event (None for the clock).
    """

    event_id: str
    event_time: int
    family: str | None = None
    event: dict[str, Any] | None = None
    models: ModelSuite | None = None
    observation: Observation | None = None


class Policy(Protocol):
    """A decision policy.

    ``react`` runs after the profile has absorbed an event; ``wake`` runs when event time passes
    a moment the policy asked for with ``due``. Both return candidate decisions; the engine
    drops those already sent. Policies never mutate the profile except ``profile.due``.
    """

    name: str

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]: ...

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]: ...


def ttl_ms(settings: EngineSettings) -> int:
    return int(settings.decision_ttl_days * DAY_MS)


def message_channel(profile: CustomerProfile, preferred: tuple[str, ...]) -> str | None:
    """The first preferred channel the customer has not opted out of; None if all are closed."""
    if profile.consent.get("all") is False:
        return None
    for channel in preferred:
        if profile.consent.get(channel) is not False:
            return channel
    return None


def customer_summary(profile: CustomerProfile, now: int) -> dict[str, Any]:
    """The facts about a customer that a person or a message needs, with the models' scores."""
    return {
        "orders": profile.orders,
        "revenue": round(profile.revenue, 2),
        "tenure_days": round(max(0, now - profile.first_seen) / DAY_MS, 1),
        "days_since_last_order": (
            round((now - profile.last_order_at) / DAY_MS, 1) if profile.last_order_at else None
        ),
        "usual_gap_days": (
            round(profile.usual_gap_ms / DAY_MS, 1) if profile.usual_gap_ms else None
        ),
        "last_category": profile.last_category,
        "returns": profile.returns,
        "defective_returns": profile.defective_returns,
        "support_contacts": len(profile.support_contacts),
        "sentiment": round(profile.sentiment, 3) if profile.sentiment is not None else None,
        **{key: profile.scores.get(key) for key in MODEL_SCORES},
    }


MODEL_SCORES = ("churn_risk", "expected_value", "value_tier", "next_order_at")
"""Model scores every decision's customer summary carries (None until the model has one)."""


def recommended_items(
    profile: CustomerProfile, trigger: Trigger, k: int, *, context: list[str] | None = None,
    exclude: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``k`` recommendations with their reasons for a message payload ([] without models),
    what the customer looks for in their current visit weighted in."""
    if trigger.models is None or k <= 0:
        return []
    skip = exclude or set()
    picks = trigger.models.recommend(profile, k + len(skip), context=context,
                                     visit=profile.current_visit(trigger.event_time))
    return [
        {"item_id": r.item_id, "score": round(r.score, 4), "reason": r.reason,
         "source": r.source}
        for r in picks if r.item_id not in skip
    ][:k]


def numeric_scores(profile: CustomerProfile, names: tuple[str, ...]) -> dict[str, float]:
    """The named model scores the profile holds, as floats for a decision's ``scores``."""
    out: dict[str, float] = {}
    for name in names:
        value = profile.scores.get(name)
        if isinstance(value, int | float):
            out[name] = round(float(value), 4)
    return out
