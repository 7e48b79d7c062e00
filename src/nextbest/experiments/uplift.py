"""Incremental conversion and revenue of sent decisions against their control group.

Input is the stream of :class:`~nextbest.experiments.attribution.Outcome` records (one per closed
exposure). Per decision type, exposures in the ``holdout`` or ``control`` arm are the control
group, the rest the treated group. Conversion is "at least one order in the attribution window";
the difference of proportions gets a normal-approximation (Wald) interval, revenue per exposure
a Welch interval. ``incremental_revenue`` scales the per-exposure difference to the treated group.

>>> rows = [{"decision_type": "winback", "experiment_arm": arm, "orders": o, "revenue": r}
...         for arm, o, r in [("treatment", 1, 50.0), ("treatment", 0, 0.0),
...                           ("holdout", 0, 0.0), ("holdout", 0, 0.0)]]
>>> report = uplift(rows)["winback"]
>>> report.treated.exposures, report.treated.conversion, report.conversion_lift.estimate
(2, 0.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nextbest.experiments.assign import NOT_SENT

Z95 = 1.959964
ALL = "all"


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Group:
    exposures: int
    conversions: int
    revenue: float
    revenue_sq: float
    orders: int

    @property
    def conversion(self) -> float:
        return self.conversions / self.exposures if self.exposures else 0.0

    @property
    def revenue_per_exposure(self) -> float:
        return self.revenue / self.exposures if self.exposures else 0.0

    @property
    def orders_per_exposure(self) -> float:
        return self.orders / self.exposures if self.exposures else 0.0

    def revenue_variance(self) -> float:
        n = self.exposures
        if n < 2:
            return 0.0
        mean = self.revenue / n
        return max(0.0, (self.revenue_sq - n * mean * mean) / (n - 1))


@dataclass(frozen=True, slots=True)
class Uplift:
    decision_type: str
    treated: Group
    control: Group
    conversion_lift: Interval
    revenue_lift: Interval
    """Per exposure."""
    incremental_revenue: Interval
    """Over all treated exposures."""

    def to_dict(self) -> dict[str, Any]:
        def interval(i: Interval) -> dict[str, float]:
            return {"estimate": round(i.estimate, 6), "low": round(i.low, 6),
                    "high": round(i.high, 6)}

        def group(g: Group) -> dict[str, Any]:
            return {"exposures": g.exposures, "conversions": g.conversions,
                    "conversion": round(g.conversion, 6), "orders": g.orders,
                    "revenue": round(g.revenue, 2),
                    "revenue_per_exposure": round(g.revenue_per_exposure, 4)}

        return {"decision_type": self.decision_type, "treated": group(self.treated),
                "control": group(self.control),
                "conversion_lift": interval(self.conversion_lift),
                "revenue_lift_per_exposure": interval(self.revenue_lift),
                "incremental_revenue": interval(self.incremental_revenue)}


def uplift(outcomes: Iterable[Mapping[str, Any]]) -> dict[str, Uplift]:
    """Uplift per decision type, plus ``"all"`` over every type."""
    sums: dict[tuple[str, bool], list[float]] = {}
    for o in outcomes:
        control = o["experiment_arm"] in NOT_SENT
        orders, revenue = int(o["orders"]), float(o["revenue"])
        for key in ((o["decision_type"], control), (ALL, control)):
            acc = sums.setdefault(key, [0, 0, 0.0, 0.0, 0])
            acc[0] += 1
            acc[1] += orders > 0
            acc[2] += revenue
            acc[3] += revenue * revenue
            acc[4] += orders
    types = sorted({t for t, _ in sums}, key=lambda t: (t == ALL, t))
    return {t: _compare(t, _group(sums.get((t, False))), _group(sums.get((t, True))))
            for t in types}


def _group(acc: list[float] | None) -> Group:
    if acc is None:
        return Group(0, 0, 0.0, 0.0, 0)
    return Group(int(acc[0]), int(acc[1]), acc[2], acc[3], int(acc[4]))


def _compare(decision_type: str, t: Group, c: Group) -> Uplift:
    if t.exposures == 0 or c.exposures == 0:
        nan = Interval(math.nan, math.nan, math.nan)
        return Uplift(decision_type, t, c, nan, nan, nan)
    diff = t.conversion - c.conversion
    se = math.sqrt(t.conversion * (1 - t.conversion) / t.exposures
                   + c.conversion * (1 - c.conversion) / c.exposures)
    rdiff = t.revenue_per_exposure - c.revenue_per_exposure
    rse = math.sqrt(t.revenue_variance() / t.exposures + c.revenue_variance() / c.exposures)
    n = t.exposures
    return Uplift(
        decision_type, t, c,
        Interval(diff, diff - Z95 * se, diff + Z95 * se),
        Interval(rdiff, rdiff - Z95 * rse, rdiff + Z95 * rse),
        Interval(rdiff * n, (rdiff - Z95 * rse) * n, (rdiff + Z95 * rse) * n),
    )


def render(report: Mapping[str, Uplift]) -> str:
    """A terminal table of an uplift report."""
    head = (f"{'decision type':<18}{'treated':>9}{'control':>9}{'conv T':>8}{'conv C':>8}"
            f"{'lift (95% CI)':>26}{'incremental revenue (95% CI)':>36}")
    lines = [head, "-" * len(head)]
    for name, u in report.items():
        lift = u.conversion_lift
        rev = u.incremental_revenue
        lift_text = "n/a" if math.isnan(lift.estimate) else (
            f"{lift.estimate:+.2%} [{lift.low:+.2%}, {lift.high:+.2%}]")
        rev_text = "n/a" if math.isnan(rev.estimate) else (
            f"{rev.estimate:+,.0f} [{rev.low:+,.0f}, {rev.high:+,.0f}]")
        lines.append(f"{name:<18}{u.treated.exposures:>9}{u.control.exposures:>9}"
                     f"{u.treated.conversion:>8.1%}{u.control.conversion:>8.1%}"
                     f"{lift_text:>26}{rev_text:>36}")
    return "\n".join(lines)
