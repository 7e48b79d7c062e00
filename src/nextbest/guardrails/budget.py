"""The incentive budget: what offers may cost per day of event time, and what they cost so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

KEEP_DAYS = 8


@dataclass
class IncentiveBudget:
    """Spend per event-time day (UTC). One per worker, checkpointed with the models.

    >>> budget = IncentiveBudget()
    >>> budget.left(0, 100.0)
    100.0
    >>> budget.spend(0, 30.0)
    >>> budget.left(3_600_000, 100.0), budget.left(DAY_MS, 100.0)
    (70.0, 100.0)
    """

    spent: dict[int, float] = field(default_factory=dict)

    def left(self, now: int, per_day: float) -> float:
        return max(0.0, per_day - self.spent.get(now // DAY_MS, 0.0))

    def spend(self, now: int, amount: float) -> None:
        day = now // DAY_MS
        self.spent[day] = self.spent.get(day, 0.0) + amount
        for old in [d for d in self.spent if d < day - KEEP_DAYS]:
            del self.spent[old]


def predicted_value(profile: CustomerProfile, settings: EngineSettings) -> float:
    """What the customer is expected to be worth: the churn model's value forecast, else their
    average order, else the value assumed for a newcomer."""
    expected = profile.scores.get("expected_value")
    if isinstance(expected, int | float) and expected > 0:
        return float(expected)
    if profile.orders:
        return profile.revenue / profile.orders
    return settings.new_customer_value


def incentive_cap(profile: CustomerProfile, settings: EngineSettings) -> float:
    """The most an incentive for this customer may cost.

    >>> s = EngineSettings(incentive_value_share=0.1)
    >>> incentive_cap(CustomerProfile("c", orders=2, revenue=300.0), s)
    15.0
    """
    return round(settings.incentive_value_share * predicted_value(profile, settings), 2)
