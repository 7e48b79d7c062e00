"""The incentive budget: what offers may cost per day of event time, and what they cost so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nextbest.partitions import partition_of
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

KEEP_DAYS = 8


@dataclass
class IncentiveBudget:
    """Incentive spend per event-time day (UTC), in pots.

    The day's budget is split evenly over ``pots``, and a customer's pot is their partition
    (:func:`nextbest.partitions.partition_of`). A partition is owned by one worker at a time and
    its pot travels with it (the worker keeps it in the partition's changelog), so the pots add
    up to the day's budget whatever the number of workers, and adding a worker changes no
    decision. In-process there is one pot.

    >>> budget = IncentiveBudget()
    >>> budget.left(0, 100.0, "c1")
    100.0
    >>> budget.spend(0, 30.0, "c1")
    >>> budget.left(3_600_000, 100.0, "c2"), budget.left(DAY_MS, 100.0, "c1")
    (70.0, 100.0)
    >>> split = IncentiveBudget(pots=4)
    >>> split.left(0, 100.0, "c1")
    25.0
    """

    pots: int = 1
    spent: dict[int, dict[int, float]] = field(default_factory=dict)
    """Pot -> day -> spent."""

    def pot(self, customer_id: str) -> int:
        return partition_of(customer_id, self.pots) if self.pots > 1 else 0

    def left(self, now: int, per_day: float, customer_id: str) -> float:
        """What is left today of the pot that pays for ``customer_id``'s incentives."""
        spent = self.spent.get(self.pot(customer_id), {}).get(now // DAY_MS, 0.0)
        return max(0.0, per_day / self.pots - spent)

    def spend(self, now: int, amount: float, customer_id: str) -> None:
        day = now // DAY_MS
        days = self.spent.setdefault(self.pot(customer_id), {})
        days[day] = days.get(day, 0.0) + amount
        for old in [d for d in days if d < day - KEEP_DAYS]:
            del days[old]

    def pot_state(self, pot: int) -> dict[str, float]:
        """One pot's spend by day, to persist with the partition it belongs to."""
        return {str(day): spent for day, spent in self.spent.get(pot, {}).items()}

    def restore_pot(self, pot: int, state: dict[str, float]) -> None:
        self.spent[pot] = {int(day): float(spent) for day, spent in state.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints from before the pots kept one flat day -> spent mapping.
        spent = state.get("spent") or {}
        if spent and not isinstance(next(iter(spent.values())), dict):
            state = {**state, "spent": {0: spent}}
        self.__dict__.update({"pots": 1, **state})


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
