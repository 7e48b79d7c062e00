"""Proactive apologies against complaints avoided, measured and true, from one closed-loop run.

**Measured** (what the engine's own records show): every order whose delay notice the engine
stepped in the measured period, grouped by what became of its apology - ``sent``, held back in
the ``control`` arm, ``suppressed`` by a guardrail, or ``none`` made (a delay under the
threshold, no channel open) - and whether the customer then wrote about the order (a support
message naming it within ``COMPLAINT_WINDOW_DAYS`` of the notice). The control arm is the
baseline: complaints avoided = (control rate - sent rate) x apologies sent, with a 95% interval.

**Truth** (the simulator's, ``Shop.delays()``): for the same orders, whether the customer would
have asked without an apology and whether they did, so the apologies' true effect sits next to
the measured one.

>>> tally = DelayTally(threshold_days=2.0)
>>> tally.noticed("o1", 0)
>>> tally.decided("o1", "sent")
>>> tally.wrote("o1", 3_600_000)
>>> tally.groups()["sent"]
['o1']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nextbest.experiments.uplift import Z95
from nextbest.settings import DAY_MS
from nextbest.simulation import DelayTruth

COMPLAINT_WINDOW_DAYS = 14.0
GROUPS = ("sent", "control", "suppressed", "none")
_RANK = {"deferred": 0, "suppressed": 1, "control": 2, "sent": 3}
"""A released decision is logged deferred first, then sent: the later verdict wins."""


@dataclass
class DelayTally:
    """What the loop saw of late orders: notices, apology verdicts and customers writing."""

    threshold_days: float
    notices: dict[str, int] = field(default_factory=dict)
    """Order id -> event time of its first delay notice (measured period)."""
    verdicts: dict[str, str] = field(default_factory=dict)
    complaints: dict[str, int] = field(default_factory=dict)
    """Order id -> first customer message naming it within the window after the notice."""

    def noticed(self, order_id: str, at: int) -> None:
        self.notices.setdefault(order_id, at)

    def decided(self, order_id: str, status: str) -> None:
        known = self.verdicts.get(order_id)
        if known is None or _RANK.get(status, 0) >= _RANK.get(known, 0):
            self.verdicts[order_id] = status

    def wrote(self, order_id: str, at: int) -> None:
        since = self.notices.get(order_id)
        if since is not None and since <= at < since + COMPLAINT_WINDOW_DAYS * DAY_MS:
            self.complaints.setdefault(order_id, at)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g in GROUPS}
        for order_id in self.notices:
            status = self.verdicts.get(order_id, "none")
            out[status if status in out else "none"].append(order_id)
        return out


@dataclass(frozen=True, slots=True)
class Rate:
    orders: int
    complained: int

    @property
    def rate(self) -> float:
        return self.complained / self.orders if self.orders else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "complained": self.complained,
                "rate": None if math.isnan(self.rate) else round(self.rate, 4)}


@dataclass(frozen=True, slots=True)
class DelayReport:
    """Apologies and complaints of one run (see the module's docstring)."""

    threshold_days: float
    delayed: int
    """Late orders whose notice the engine stepped in the measured period."""
    measured: dict[str, Rate]
    """By group: orders and those whose customer wrote about them."""
    truth: dict[str, Rate]
    """By group: orders and those whose customer truly asked (the simulator's record)."""
    would_have: dict[str, Rate]
    """By group: orders and those whose customer would have asked without an apology."""
    reached: int
    """Sent apologies that reached the customer before they would have asked."""
    shop_delayed: int
    """Late orders the shop noticed in the measured period (the simulator's count)."""

    @property
    def avoided(self) -> tuple[float, float, float]:
        """Measured complaints avoided by the apologies sent: estimate, 95% low and high."""
        sent, control = self.measured["sent"], self.measured["control"]
        if not sent.orders or not control.orders:
            return math.nan, math.nan, math.nan
        diff = control.rate - sent.rate
        se = math.sqrt(control.rate * (1 - control.rate) / control.orders
                       + sent.rate * (1 - sent.rate) / sent.orders)
        n = sent.orders
        return diff * n, (diff - Z95 * se) * n, (diff + Z95 * se) * n

    @property
    def truly_avoided(self) -> int:
        return self.would_have["sent"].complained - self.truth["sent"].complained

    def to_dict(self) -> dict[str, Any]:
        estimate, low, high = self.avoided
        return {
            "threshold_days": self.threshold_days,
            "delayed_orders": self.delayed,
            "shop_delayed_orders": self.shop_delayed,
            "apologies": {g: self.measured[g].orders for g in GROUPS},
            "complaints": {g: self.measured[g].to_dict() for g in GROUPS},
            "complaints_avoided": {k: None if math.isnan(v) else round(v, 1) for k, v in
                                   (("measured", estimate), ("low", low), ("high", high))},
            "truth": {
                "complaints": {g: self.truth[g].to_dict() for g in GROUPS},
                "without_apology": {g: self.would_have[g].to_dict() for g in GROUPS},
                "apologies_reached_in_time": self.reached,
                "complaints_avoided": self.truly_avoided,
            },
        }

    def render(self) -> list[str]:
        m, t, w = self.measured, self.truth, self.would_have
        estimate, low, high = self.avoided

        def pct(rate: Rate) -> str:
            return "n/a" if math.isnan(rate.rate) else f"{rate.rate:.1%}"

        lines = [f"late orders: {self.delayed} (shop: {self.shop_delayed}); apology threshold "
                 f"{self.threshold_days:g} days",
                 f"{'apology':<12}{'orders':>8}{'wrote':>8}{'measured':>10}{'truth':>8}"
                 f"{'without':>9}"]
        for g in GROUPS:
            lines.append(f"{g:<12}{m[g].orders:>8}{m[g].complained:>8}{pct(m[g]):>10}"
                         f"{pct(t[g]):>8}{pct(w[g]):>9}")
        shown = ("n/a" if math.isnan(estimate) else
                 f"{estimate:+.1f} [{low:+.1f}, {high:+.1f}]")
        lines.append(f"complaints avoided by {m['sent'].orders} apologies: measured against the "
                     f"control arm {shown}, true {self.truly_avoided} ({self.reached} reached "
                     "the customer before they would have asked)")
        return lines


def delay_report(tally: DelayTally, truths: Iterable[DelayTruth], *, start: int,
                 end: int) -> DelayReport:
    """The report of one run: the loop's tally next to the simulator's truth."""
    by_order: Mapping[str, DelayTruth] = {t.order_id: t for t in truths}
    groups = tally.groups()
    measured: dict[str, Rate] = {}
    truth: dict[str, Rate] = {}
    would: dict[str, Rate] = {}
    for g, orders in groups.items():
        known = [by_order[o] for o in orders if o in by_order]
        measured[g] = Rate(len(orders), sum(1 for o in orders if o in tally.complaints))
        truth[g] = Rate(len(known), sum(1 for d in known if d.complained))
        would[g] = Rate(len(known), sum(1 for d in known if d.would_complain))
    reached = sum(1 for o in groups["sent"]
                  if o in by_order and by_order[o].apologised_at is not None)
    shop_delayed = sum(1 for d in by_order.values() if start <= d.noticed_at < end)
    return DelayReport(tally.threshold_days, len(tally.notices), measured, truth, would,
                       reached, shop_delayed)
