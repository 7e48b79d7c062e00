"""Send time in the closed loop: how often marketing emails are opened when they wait for the
customer's learnt hour, against sending them at once, next to the simulator's truth.

The simulator's customers read email at an hour of their own (``Persona.inbox_hour``, hidden);
an email that arrives long before it is buried and opened less often
(``Persona.freshness``). For every marketing email delivered in the measured period the
report counts the opens, the chance of an open as it was sent, and the chance it would have had
sent as the customer reads email (the truth: no timing does better). For the emails that
waited for their customer's hour it also takes the chance they had at the moment they were
ready to go, so the same run shows what sending at once would have got.

``python -m nextbest.experiments.send_time --seeds 7 11 [--days 120]`` runs the loop twice per
seed, as configured and with every message sent at once (``send_time_types`` empty).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nextbest.decisions.record import Decision
from nextbest.guardrails import is_marketing
from nextbest.simulation.response import Delivery


@dataclass(frozen=True, slots=True)
class SendTimeReport:
    emails: int
    """Marketing emails delivered to a reachable customer in the measured period."""
    opened: int
    open_chance: float
    """Mean chance of an open as sent (the simulator's, per email)."""
    at_once_chance: float
    """Mean chance had every email gone out when it was ready (those that waited, then)."""
    best_chance: float
    """Mean chance had each been sent as its customer reads email."""
    waited: int
    """Emails that waited for their customer's hour (``deferred:send_time`` verdicts)."""

    @property
    def open_rate(self) -> float:
        return self.opened / self.emails if self.emails else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"emails": self.emails, "opened": self.opened,
                "open_rate": round(self.open_rate, 4) if self.emails else None,
                "open_chance": round(self.open_chance, 4),
                "at_once_chance": round(self.at_once_chance, 4),
                "best_chance": round(self.best_chance, 4), "waited": self.waited}

    def render(self) -> str:
        return (f"send time: {self.emails} marketing emails ({self.waited} waited for their "
                f"customer's hour), opened {self.open_rate:.1%}; chance of an open as sent "
                f"{self.open_chance:.1%}, sent at once {self.at_once_chance:.1%}, sent as each "
                f"customer reads email (truth) {self.best_chance:.1%}.")


def send_time_report(sent: Iterable[Decision], deliveries: Mapping[str, Delivery],
                     waited_at: Mapping[str, int],
                     freshness: Callable[[str, int], float]) -> SendTimeReport:
    """Opens of the marketing emails among ``sent`` that reached their customer;
    ``waited_at``: decision id -> when it began to wait for its customer's hour;
    ``freshness(customer, at)``: the simulator's share of the best chance an email arriving
    ``at`` has."""
    reached = [d for s in sent if s.channel == "email" and is_marketing(s.decision_type)
               and (d := deliveries.get(s.decision_id)) is not None and d.best_open_chance > 0]
    n = len(reached)

    def at_once(d: Delivery) -> float:
        ready = waited_at.get(d.decision_id)
        return d.open_chance if ready is None else (
            d.best_open_chance * freshness(d.customer_id, ready))

    def mean(values: Iterable[float]) -> float:
        return sum(values) / n if n else 0.0

    return SendTimeReport(
        emails=n, opened=sum(1 for d in reached if d.opened),
        open_chance=mean(d.open_chance for d in reached),
        at_once_chance=mean(at_once(d) for d in reached),
        best_chance=mean(d.best_open_chance for d in reached),
        waited=sum(1 for d in reached if d.decision_id in waited_at))


def main(argv: list[str] | None = None) -> int:
    from nextbest.experiments.closed_loop import loop_settings, simulate

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args(argv)
    print("| seed | emails (learnt / at once) | waited | opened, learnt | opened, at once "
          "| chance as sent, learnt | at once (same run) | at once (own run) | truth |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in args.seeds:
        reports = []
        for settings in (loop_settings(), loop_settings().model_copy(
                update={"send_time_types": ()})):
            report = simulate(seed=seed, customers=args.customers, days=args.days,
                              settings=settings).send_time
            assert report is not None
            reports.append(report)
        timed, at_once = reports
        print(f"| {seed} | {timed.emails} / {at_once.emails} | {timed.waited} "
              f"| {timed.open_rate:.1%} | {at_once.open_rate:.1%} | {timed.open_chance:.1%} "
              f"| {timed.at_once_chance:.1%} | {at_once.open_chance:.1%} "
              f"| {timed.best_chance:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
