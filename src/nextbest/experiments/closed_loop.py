"""The closed loop: the synthetic shop's traffic through the engine, its decisions back to the
shop, and what they truly changed next to what ``nextbest report uplift`` measures.

One run, pure Python (no Kafka): every event of a seeded :class:`~nextbest.simulation.Shop` goes
through :class:`~nextbest.driver.InProcess`, the loop the stream's stages run: resolved to a
canonical customer by :class:`~nextbest.identity.IdentityGraph`, merges carried out, stepped
through one :class:`~nextbest.engine.Engine`, and customers woken from the agenda as event time
passes their due moments. Here every event tells the time, the shop's catalog events and events
naming nobody included. The policies are the defaults, the cart reminder skipping
rebuilds of a reminder already decided (no decision changes). Every sent decision is
delivered to the shop, whose customers answer by the hidden response model; every closed
exposure becomes an outcome record.

Decisions are made for ``days`` of event time. The traffic then runs on for one attribution
window and a day (the drain) so every exposure decided in the measured period sees its whole
window; outcomes of decisions made in the drain are left out of the report.

The simulator's hidden truth makes the measured figures checkable:

* **true lift** of a sent exposure: its measured conversion (Y1) minus whether the customer made
  a natural order in its window (Y0, the orders they would have made without any decision). Y0
  counts the natural orders the engine saw on the same profile after the decision
  (``conversion_lift``), so both sides use the same measurement; ``conversion_lift_shop``
  counts every natural order of the shop's customer, store orders on a profile never linked to
  this one included. A response to another decision in the same window counts as lift, as it
  does in the measured comparison against the holdout.
* **win-back precision**: the share of win-backs (sent or control) whose customer is lapsing
  at the decision (lapse already past, or within the weeks their engagement fades), against the
  same share among all customers with enough orders at that moment (random targeting of the
  same pool); also the share of targeted customers who ever lapse against that pool's.
* **proactive apologies**: late orders (the shop ships its online orders, some late) grouped
  by what became of their apology - sent, held back in the control arm of ``APOLOGY_ARMS``,
  suppressed, none made - and whether the customer wrote about the order, next to whether they
  truly asked and would have asked without an apology (``experiments/delays.py``).
* **bandit regret**: per offer decided by the bandit, the best response probability among the
  offers it could afford (same kinds, same value cap and budget, recorded at the pick) minus the
  chosen offer's, against a uniform choice among the same offers; ``catalogue`` repeats it over
  every affordable offer of any kind (the win-back's discount/upgrade rule included). Loyalty
  rewards are ranked by affinity, not by the bandit, and are left out.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from nextbest.decisions.policies import (
    CartReminderPolicy,
    Policy,
    Trigger,
    default_policies,
)
from nextbest.decisions.policies.cart_reminder import DUE_KEY as CART_DUE_KEY
from nextbest.decisions.record import Decision
from nextbest.driver import Fed, InProcess, ProfileStore
from nextbest.engine import Engine, StepResult
from nextbest.errors import UnprocessableEvent
from nextbest.experiments.attribution import Outcome
from nextbest.experiments.delays import DelayReport, DelayTally, delay_report
from nextbest.experiments.send_time import SendTimeReport, send_time_report
from nextbest.experiments.uplift import ALL, Uplift, render, uplift
from nextbest.guardrails import CONTROL, SENT, is_marketing
from nextbest.models.offers import NextBestOffer, OfferChoice, cost
from nextbest.models.suite import ModelSuite
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings
from nextbest.simulation import Delivery, Shop, SimEvent, response_probability
from nextbest.simulation.customers import ENGAGEMENT_FADE_DAYS, Persona

DRAIN_EXTRA_MS = DAY_MS
"""Event time the traffic runs past the end of the last attribution window."""
APOLOGY_ARMS = {"delay_apology": {"control": 0.2, "treatment": 0.8}}
"""The loop holds a fifth of the proactive apologies back (logged, never sent): the baseline the
complaints they avoid are measured against."""


def loop_settings() -> EngineSettings:
    """The engine's settings in the loop: the defaults, with the apologies' control arm."""
    return EngineSettings(experiment_arms=APOLOGY_ARMS)


# --- the engine's parts, as the loop runs them ------------------------------------------------

class DecidedCartSkipped(CartReminderPolicy):
    """The default cart reminder, minus rebuilding a reminder the engine already decided on.

    Every event of a customer whose cart stays abandoned re-arms the reminder, and the policy
    then builds it again (recommendations included) only for the engine to drop its known id.
    Skipping that build changes no decision (recommendations are a pure function of the models)
    and makes the loop several times faster.
    """

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        due = profile.due.get(CART_DUE_KEY)
        if due is not None and trigger.event_time >= due and profile.cart:
            newest = max(profile.cart, key=lambda line: line.added_at)
            decision_id = Decision.make_id("cart_reminder", profile.customer_id, newest.event_id)
            held = {h["record"]["decision_id"] for h in profile.held}
            if decision_id in profile.sent or decision_id in held:
                del profile.due[CART_DUE_KEY]
                return []
        return super().wake(profile, trigger, settings)


def loop_policies() -> list[Policy]:
    """The default policies, with the cart reminder's duplicate builds skipped."""
    return [DecidedCartSkipped() if isinstance(p, CartReminderPolicy) else p
            for p in default_policies()]


# --- the offer bandit's choice sets -----------------------------------------------------------

class RecordingOffers(NextBestOffer):
    """The engine's offer model, noting the offers each pick could choose from (for regret)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choice_sets: dict[tuple[str, int, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        """(customer, event time, chosen offer) -> (offers of the asked kinds, of any kind)."""

    def pick(
        self,
        profile: CustomerProfile,
        now: int,
        *,
        kinds: Collection[str] | None = None,
        value_cap: float,
        budget_left: float,
        basket_value: float | None = None,
    ) -> OfferChoice | None:
        choice = super().pick(profile, now, kinds=kinds, value_cap=value_cap,
                              budget_left=budget_left, basket_value=basket_value)
        if choice is None:
            return None
        basket = self.basket_value(profile) if basket_value is None else basket_value
        limit = min(value_cap, budget_left)
        affordable = [o for o in self.offers if cost(o, basket) <= limit and (
            o.category is None or profile.category_affinity.get(o.category, 0) > 0)]
        asked = tuple(o.offer_id for o in affordable if kinds is None or o.kind in kinds)
        self.choice_sets[(profile.customer_id, now, choice.offer.offer_id)] = (
            asked, tuple(o.offer_id for o in affordable))
        return choice


# --- the report -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TypeTruth:
    """What the sent exposures of one decision type truly changed (from the hidden truth)."""

    decision_type: str
    exposures: int
    conversion_lift: float
    """mean(Y1 - Y0), Y0 from the natural orders the engine saw on the same profile."""
    revenue_lift: float
    """Per exposure: mean(revenue - natural revenue seen in the window)."""
    conversion_lift_shop: float
    """mean(Y1 - Y0), Y0 from every natural order of the shop's customer."""
    revenue_lift_shop: float
    expected_response: float
    """Mean probability of a response order (the response model) over these exposures."""
    responded: float
    """Share of these exposures whose delivery caused a response order."""

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v)
                for k, v in (("decision_type", self.decision_type),
                             ("exposures", self.exposures),
                             ("conversion_lift", self.conversion_lift),
                             ("revenue_lift_per_exposure", self.revenue_lift),
                             ("conversion_lift_shop", self.conversion_lift_shop),
                             ("revenue_lift_per_exposure_shop", self.revenue_lift_shop),
                             ("expected_response", self.expected_response),
                             ("responded", self.responded))}


@dataclass(frozen=True, slots=True)
class Precision:
    """Win-back targeting against random targeting of the same pool, from the hidden truth.

    A win-back hits when its customer is **lapsing**: their lapse lies before the decision or at
    most ``ENGAGEMENT_FADE_DAYS`` after it (their engagement is already fading). The base rate is
    the same share among the customers with enough orders at each decision's moment (random
    targeting then). ``trained_*`` repeats it over the win-backs decided once the churn model had
    warmed up. ``will_lapse`` is the share of targeted customers who lapse at any time (even
    after the run), against every customer with enough orders in the period.
    """

    decisions: int
    """Win-backs sent or held out in the period (to a known shop customer)."""
    lapsing: float
    base_lapsing: float
    trained_decisions: int
    trained_lapsing: float
    trained_base_lapsing: float
    customers: int
    """Distinct shop customers among them."""
    will_lapse: float
    pool: int
    """Shop customers with at least ``winback_min_orders`` natural orders in the period."""
    base_will_lapse: float

    def lapsing_low(self, z: float = 1.645) -> float:
        """Lower confidence bound of ``lapsing`` (normal approximation, one-sided 95 %)."""
        n, p = self.decisions, self.lapsing
        return p - z * math.sqrt(p * (1 - p) / n) if n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else
                    round(v, 4) if isinstance(v, float) else v)
                for k, v in (("decisions", self.decisions), ("lapsing", self.lapsing),
                             ("lapsing_low", self.lapsing_low()),
                             ("base_lapsing", self.base_lapsing),
                             ("trained_decisions", self.trained_decisions),
                             ("trained_lapsing", self.trained_lapsing),
                             ("trained_base_lapsing", self.trained_base_lapsing),
                             ("customers", self.customers), ("will_lapse", self.will_lapse),
                             ("pool", self.pool), ("base_will_lapse", self.base_will_lapse))}


@dataclass(frozen=True, slots=True)
class Regret:
    """Response-probability regret of the bandit's offers against a uniform choice."""

    decisions: int
    chosen: float
    """Total over decisions of (best probability - chosen offer's)."""
    uniform: float
    """Total over decisions of the mean (best - each offer) among the same offers."""

    @property
    def ratio(self) -> float:
        return self.chosen / self.uniform if self.uniform else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "chosen": round(self.chosen, 4),
                "uniform": round(self.uniform, 4),
                "ratio": None if math.isnan(self.ratio) else round(self.ratio, 4)}


@dataclass
class LoopReport:
    """Measured uplift next to the truth, win-back precision and bandit regret of one run."""

    seed: int
    customers: int
    days: int
    events: int
    """Events stepped through the engine in the measured period (the drain not included)."""
    seconds: float
    verdicts: dict[str, dict[str, int]]
    """Per decision type: ``sent``, ``control``, ``suppressed:<rule>``, ``deferred:<rule>``."""
    uplift: dict[str, Uplift]
    truth: dict[str, TypeTruth]
    precision: Precision
    regret: dict[str, dict[str, Regret]]
    """``choice_set`` / ``catalogue`` -> decision type (and ``all``) -> regret."""
    delivery: dict[str, int] = field(default_factory=dict)
    """Sent, delivered, undeliverable (no shop customer behind the profile), reached, responded."""
    exposures: dict[str, int] = field(default_factory=dict)
    """Opened in the period, closed as outcomes, lost (never closed), dropped in merges."""
    churn_trained_day: float | None = None
    """Day of the run at which the churn model had learnt enough to gate win-backs."""
    delays: DelayReport | None = None
    """Proactive apologies against complaints, measured and true."""
    send_time: SendTimeReport | None = None
    """Opens of marketing emails, as sent and at the customers' true hours."""

    def covered(self, decision_type: str = ALL) -> bool:
        """Whether the measured conversion-lift interval contains the true lift."""
        u, t = self.uplift.get(decision_type), self.truth.get(decision_type)
        if u is None or t is None or math.isnan(u.conversion_lift.low):
            return False
        return u.conversion_lift.contains(t.conversion_lift)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "customers": self.customers, "days": self.days,
            "events": self.events, "seconds": round(self.seconds, 1),
            "churn_trained_day": (None if self.churn_trained_day is None
                                  else round(self.churn_trained_day, 1)),
            "verdicts": self.verdicts,
            "uplift": {k: _finite(u.to_dict()) for k, u in self.uplift.items()},
            "truth": {k: t.to_dict() for k, t in self.truth.items()},
            "truth_in_interval": {k: self.covered(k) for k in self.truth},
            "winback_precision": self.precision.to_dict(),
            "offer_regret": {scope: {k: r.to_dict() for k, r in rows.items()}
                             for scope, rows in self.regret.items()},
            "delivery": dict(self.delivery),
            "exposures": dict(self.exposures),
            "delays": self.delays.to_dict() if self.delays is not None else None,
            "send_time": self.send_time.to_dict() if self.send_time is not None else None,
        }

    def render(self) -> str:
        """Terminal text: the uplift table with the true lift, then precision and regret."""
        table = render(self.uplift).split("\n")
        out = [f"{table[0]}{'truth':>9}{'in CI':>7}", "-" * (len(table[0]) + 16)]
        for name, line in zip(self.uplift, table[2:], strict=True):
            t = self.truth.get(name)
            truth = f"{t.conversion_lift:+.2%}" if t else "n/a"
            measured = not math.isnan(self.uplift[name].conversion_lift.low)
            inside = ("yes" if self.covered(name) else "no") if t and measured else ""
            out.append(f"{line}{truth:>9}{inside:>7}")
        out += ["", "truth per sent exposure: Y1 (converted, as measured) - Y0 (a natural order "
                    "in its window)", f"{'decision type':<18}{'sent':>7}{'conv lift':>11}"
                    f"{'shop-wide':>11}{'revenue/exp':>13}{'p(response)':>13}{'responded':>11}"]
        for name, t in self.truth.items():
            out.append(f"{name:<18}{t.exposures:>7}{t.conversion_lift:>+11.2%}"
                       f"{t.conversion_lift_shop:>+11.2%}{t.revenue_lift:>+13.2f}"
                       f"{t.expected_response:>13.2%}{t.responded:>11.2%}")
        p = self.precision
        if self.churn_trained_day is None:
            trained = "the churn model never warmed up"
        elif not p.trained_decisions:
            trained = f"none after the churn model warmed up (day {self.churn_trained_day:.0f})"
        else:
            trained = (f"once the churn model warmed up (day {self.churn_trained_day:.0f}) "
                       f"{p.trained_lapsing:.1%} of {p.trained_decisions} vs "
                       f"{p.trained_base_lapsing:.1%}")
        out += [
            "",
            f"win-back precision: {p.lapsing:.1%} of {p.decisions} win-backs reached a customer "
            f"lapsing then, random targeting at the same moments {p.base_lapsing:.1%}; {trained}."
            f" {p.will_lapse:.1%} of their {p.customers} customers ever lapse, "
            f"{p.base_will_lapse:.1%} of the {p.pool} with enough orders.",
            "",
            "offer regret (best response probability - chosen's), bandit vs uniform choice:",
        ]
        for scope, rows in self.regret.items():
            for name, r in rows.items():
                ratio = "n/a" if math.isnan(r.ratio) else f"{r.ratio:.2f}"
                out.append(f"  {scope:<11}{name:<18}{r.decisions:>6} decisions  "
                           f"bandit {r.chosen:8.3f}  uniform {r.uniform:8.3f}  ratio {ratio}")
        if self.delays is not None:
            out += ["", *self.delays.render()]
        if self.send_time is not None:
            out += ["", self.send_time.render()]
        d, e = self.delivery, self.exposures
        out += ["", f"sent {d.get('sent', 0)}, delivered {d.get('delivered', 0)}, undeliverable "
                    f"{d.get('undeliverable', 0)}, responded {d.get('responded', 0)}; exposures "
                    f"opened {e.get('opened', 0)}, closed {e.get('closed', 0)}, lost "
                    f"{e.get('lost', 0)} ({e.get('dropped_in_merge', 0)} dropped in merges).",
                f"{self.events:,} events, {self.customers:,} customers, {self.days} days, "
                f"seed {self.seed}, {self.seconds:.0f} s."]
        return "\n".join(out)


def _finite(value: Any) -> Any:
    """``value`` with NaN floats as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value


# --- the loop ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Exposure:
    """A marketing decision sent or held out in the measured period, as the loop saw it."""

    decision_type: str
    customer_id: str
    shop_customer: str | None
    decided_at: int
    orders_before: int
    """Orders stepped for the profile before the decision (its later ones may count)."""


@dataclass(slots=True)
class SentDecision:
    """A sent decision and the shop customer it was delivered to (None: nobody to deliver to)."""

    decision: Decision
    shop_customer: str | None


class ClosedLoop:
    """One shop, one identity graph, one engine; :meth:`run` drives them and reports."""

    def __init__(self, *, seed: int = 7, customers: int = 2000, days: int = 120,
                 settings: EngineSettings | None = None) -> None:
        self.seed, self.customers, self.days = seed, customers, days
        self.settings = settings or loop_settings()
        self.shop = Shop(seed=seed, customers=customers, malformed_share=0.0)
        self.offers = RecordingOffers()
        models = ModelSuite(offers=self.offers, value_top_share=self.settings.value_top_share,
                            value_low_share=self.settings.value_low_share)
        self.engine = Engine(self.settings, policies=loop_policies(), models=models)
        self.loop = InProcess(self.engine)
        self.end = self.shop.start_time_ms + days * DAY_MS
        """Decisions made before this moment are measured."""
        self.horizon = self.end + self.settings.attribution_window_ms + DRAIN_EXTRA_MS
        self.events = 0
        self.sent: dict[str, SentDecision] = {}
        self.verdicts: dict[str, Counter[str]] = defaultdict(Counter)
        self.exposed: dict[str, Exposure] = {}
        """Exposures opened in the measured period, by decision id."""
        self.outcomes: list[Outcome] = []
        self.redeemed: dict[str, str] = {}
        """Decision id carried by an order the engine saw -> the order's shop customer."""
        self.orders_seen: dict[str, list[tuple[int, float, bool]]] = defaultdict(list)
        """Canonical customer -> (event time, total, natural) of the orders stepped for it."""
        self._owner: dict[str, str] = {}
        self.dropped_in_merge = 0
        """Open exposures of absorbed profiles that the merge did not carry over."""
        self.churn_trained_at: int | None = None
        self.delays = DelayTally(self.settings.delay_apology_days)
        self.waited_at: dict[str, int] = {}
        """Decision id -> when it began to wait for its customer's send time."""

    # --- driving ------------------------------------------------------------------------------

    def run(self) -> LoopReport:
        started = time.perf_counter()
        for item in self.shop.catalog():
            self.engine.models.update_catalog(item.event)
        for message in self.shop.events():
            if not isinstance(message, SimEvent):
                continue  # the shop makes none here (malformed_share is 0)
            event_time = int(message.event["event_time"])
            if event_time > self.horizon:
                break
            self._on_event(message)
            if self.churn_trained_at is None and self.engine.models.churn_trained:
                self.churn_trained_at = event_time
            if event_time < self.end:
                self.events += 1
        # Every window still open closes now (exposures of the drain included).
        for result in self.loop.wake_all(self.horizon):
            self._record(result, self.horizon)
        return self._report(time.perf_counter() - started)

    @property
    def profiles(self) -> ProfileStore:
        return self.loop.profiles

    @property
    def clock(self) -> int:
        """Event time the loop has reached (the horizon, once a run is over)."""
        return self.loop.clock

    def _on_event(self, message: SimEvent) -> None:
        """One event through the loop (merges, its step, the wakes it lets through), then the
        run's bookkeeping of what each made."""
        family, event = message.family, message.event
        event_time = int(event["event_time"])
        try:
            fed: Fed | None = self.loop.feed(family, event)
        except UnprocessableEvent:
            fed = None
        if fed is None or fed.customer_id is None:
            # Not a customer's event (catalog) or naming nobody: event time passes all the same.
            for result in self.loop.tick(event_time):
                self._record(result, self.loop.clock)
            return
        for merge in fed.merges:
            self.dropped_in_merge += len(merge.absorbed.exposures)
            self._owner.pop(merge.absorbed.customer_id, None)
        stepped = fed.stepped
        if stepped is not None:
            self._follow_delays(family, event, event_time)
            if family == "purchase" and event["kind"] == "order":
                decision_id = event.get("decision_id")
                self.orders_seen[fed.customer_id].append(
                    (event_time, float(event["total"]), decision_id is None))
                if decision_id:
                    self.redeemed[decision_id] = self.shop_customer(stepped.profile) or ""
            self._record(stepped, event_time)
        for result in fed.woken:
            self._record(result, fed.now)

    def _follow_delays(self, family: str, event: dict[str, Any], event_time: int) -> None:
        """Note a late order's notice, or a customer writing about an order."""
        if family == "fulfilment" and event["kind"] == "delayed" and event_time < self.end:
            self.delays.noticed(event["order_id"], event_time)
        elif (family == "support" and event["author"] == "customer" and event["kind"] == "message"
              and event.get("order_id")):
            self.delays.wrote(event["order_id"], event_time)

    def _record(self, result: StepResult, now: int) -> None:
        """Note what a result decided at ``now`` and deliver its decisions to the shop."""
        profile = result.profile
        measured = now < self.end
        for logged in result.logged:
            decision = logged.decision
            if measured:
                key = logged.status if logged.rule is None else f"{logged.status}:{logged.rule}"
                self.verdicts[decision.decision_type][key] += 1
                if decision.decision_type == "delay_apology":
                    self.delays.decided(str(decision.payload.get("order_id")), logged.status)
                if logged.rule == "send_time":
                    self.waited_at.setdefault(decision.decision_id, now)
                if logged.status in (SENT, CONTROL) and is_marketing(decision.decision_type):
                    self.exposed[decision.decision_id] = Exposure(
                        decision.decision_type, profile.customer_id,
                        self.shop_customer(profile), now,
                        len(self.orders_seen[profile.customer_id]))
        shop_customer = self.shop_customer(profile) if result.decisions else None
        for decision in result.decisions:
            self.sent[decision.decision_id] = SentDecision(decision, shop_customer)
            if shop_customer is not None:
                self.shop.deliver(shop_customer, decision.to_record())
        self.outcomes.extend(result.outcomes)

    def shop_customer(self, profile: CustomerProfile) -> str | None:
        """The shop's customer behind a profile, by any identifier it holds."""
        known = self._owner.get(profile.customer_id)
        if known is not None:
            return known
        for values in profile.identifiers.values():
            for value in values:
                owner = self.shop.customer_of(value)
                if owner is not None:
                    self._owner[profile.customer_id] = owner
                    return owner
        return None

    # --- reporting ----------------------------------------------------------------------------

    def measured_outcomes(self) -> list[Outcome]:
        """Outcomes of the exposures decided in the measured period."""
        return [o for o in self.outcomes if o.decision_id in self.exposed]

    def _report(self, seconds: float) -> LoopReport:
        outcomes = self.measured_outcomes()
        deliveries = {d.decision_id: d for d in self.shop.deliveries()}
        measured_sent = [s for s in self.sent.values() if s.decision.decided_at < self.end]
        delivery = {
            "sent": len(measured_sent),
            "delivered": sum(1 for s in measured_sent if s.decision.decision_id in deliveries),
            "undeliverable": sum(1 for s in measured_sent if s.shop_customer is None),
            "reached": sum(1 for s in measured_sent
                           if (d := deliveries.get(s.decision.decision_id)) and d.probability),
            "responded": sum(1 for s in measured_sent
                             if (d := deliveries.get(s.decision.decision_id)) and d.responded),
        }
        closed = {o.decision_id for o in outcomes}
        exposures = {"opened": len(self.exposed), "closed": len(closed),
                     "lost": len(set(self.exposed) - closed),
                     "dropped_in_merge": self.dropped_in_merge}
        return LoopReport(
            seed=self.seed, customers=self.customers, days=self.days, events=self.events,
            seconds=seconds,
            verdicts={t: dict(sorted(c.items())) for t, c in sorted(self.verdicts.items())},
            uplift=uplift(o.to_record() for o in outcomes),
            truth=self._truth(outcomes, deliveries),
            precision=self._precision(),
            regret=self._regret(deliveries),
            delivery=delivery,
            exposures=exposures,
            churn_trained_day=(None if self.churn_trained_at is None else
                               (self.churn_trained_at - self.shop.start_time_ms) / DAY_MS),
            delays=delay_report(self.delays, self.shop.delays(), start=self.shop.start_time_ms,
                                end=self.end),
            send_time=send_time_report(
                (s.decision for s in measured_sent), deliveries, self.waited_at,
                lambda customer, at: self.shop.persona(customer).freshness(at)),
        )

    def _truth(self, outcomes: list[Outcome], deliveries: Mapping[str, Delivery]
               ) -> dict[str, TypeTruth]:
        rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        for o in outcomes:
            exposure = self.exposed[o.decision_id]
            if not o.sent:
                continue
            # Natural orders the exposure could have counted: stepped for the same profile after
            # the decision, before the window closed.
            seen = [total for t, total, natural in
                    self.orders_seen[o.customer_id][exposure.orders_before:]
                    if natural and t < o.closed_at]
            owner = exposure.shop_customer
            natural = [total for t, total in (self.shop.natural_orders(owner) if owner else ())
                       if o.decided_at < t < o.closed_at]
            delivered = deliveries.get(o.decision_id)
            y1 = float(o.converted)
            row = (y1 - bool(seen), o.revenue - sum(seen),
                   y1 - bool(natural), o.revenue - sum(natural),
                   delivered.probability if delivered else 0.0,
                   float(delivered.responded) if delivered else 0.0)
            rows[o.decision_type].append(row)
            rows[ALL].append(row)
        out = {}
        for name in sorted(rows, key=lambda t: (t == ALL, t)):
            values = rows[name]
            n = len(values)
            means = [sum(v[i] for v in values) / n for i in range(6)]
            out[name] = TypeTruth(name, n, *means)
        return out

    def _precision(self) -> Precision:
        truth = self.shop.truth().customers
        minimum = self.settings.winback_min_orders
        fade = int(ENGAGEMENT_FADE_DAYS * DAY_MS)
        lapse = {c: truth[c].lapse_time_ms for c in truth}
        qualified_at: dict[str, int] = {}
        """Pool customer -> time of the natural order that gave them enough orders."""
        for customer in truth:
            times = [t for t, _ in self.shop.natural_orders(customer)]
            if len(times) >= minimum and times[minimum - 1] < self.end:
                qualified_at[customer] = times[minimum - 1]
        pool = list(qualified_at)
        moments = sorted((e.decided_at, e.shop_customer) for d, e in self.exposed.items()
                         if e.decision_type == "winback" and e.shop_customer is not None)
        trained_at = self.churn_trained_at

        def rates(chosen: list[tuple[int, str]]) -> tuple[float, float]:
            hits = base = 0.0
            for at, customer in chosen:
                lapse_at = lapse[customer]
                hits += lapse_at is not None and lapse_at <= at + fade
                eligible = [c for c, since in qualified_at.items() if since < at]
                lapsing = sum(1 for c in eligible if (t := lapse[c]) is not None and t <= at + fade)
                base += lapsing / len(eligible) if eligible else 0.0
            n = len(chosen)
            return (hits / n, base / n) if n else (math.nan, math.nan)

        lapsing, base_lapsing = rates(moments)
        late = [m for m in moments if trained_at is not None and m[0] >= trained_at]
        trained_lapsing, trained_base = rates(late)
        customers = {c for _, c in moments}
        return Precision(
            decisions=len(moments), lapsing=lapsing, base_lapsing=base_lapsing,
            trained_decisions=len(late), trained_lapsing=trained_lapsing,
            trained_base_lapsing=trained_base, customers=len(customers),
            will_lapse=(sum(truth[c].will_lapse for c in customers) / len(customers)
                        if customers else math.nan),
            pool=len(pool),
            base_will_lapse=(sum(truth[c].will_lapse for c in pool) / len(pool)
                             if pool else math.nan))

    def _regret(self, deliveries: Mapping[str, Delivery]) -> dict[str, dict[str, Regret]]:
        offers = {o.offer_id: o for o in self.offers.offers}
        category_of = {item.event["item_id"]: item.event["category"]
                       for item in self.shop.catalog()}
        personas: Mapping[str, Persona] = self.shop._persona_of  # the hidden traits themselves
        sums: dict[str, dict[str, list[float]]] = {"choice_set": {}, "catalogue": {}}
        for sent in self.sent.values():
            decision = sent.decision
            offer = decision.payload.get("offer")
            delivered = deliveries.get(decision.decision_id)
            if (not isinstance(offer, dict) or decision.decided_at >= self.end
                    or delivered is None or delivered.probability <= 0.0):
                continue
            key = (decision.customer_id, decision.causing_event_time, str(offer.get("offer_id")))
            sets = self.offers.choice_sets.get(key)
            if sets is None:
                continue  # not the bandit's pick (a loyalty reward, a recovery discount)
            persona = personas[delivered.customer_id]
            named = _named_categories(decision.payload, category_of)

            def probability(offer_id: str, persona: Persona = persona, named: tuple[str, ...]
                            = named, decision: Decision = decision,
                            delivered: Delivery = delivered) -> float:
                candidate = offers[offer_id]
                categories = (*named, candidate.category) if candidate.category else named
                return response_probability(
                    persona, decision.decision_type, offer_kind=candidate.kind,
                    categories=categories, time_ms=max(delivered.decided_at, decision.decided_at),
                    action=decision.action)

            chosen = probability(str(offer["offer_id"]))
            for scope, ids in zip(("choice_set", "catalogue"), sets, strict=True):
                scores = [probability(i) for i in ids if i in offers]
                if not scores:
                    continue
                best = max(scores)
                row = (1.0, best - chosen, sum(best - s for s in scores) / len(scores))
                for name in (decision.decision_type, ALL):
                    acc = sums[scope].setdefault(name, [0.0, 0.0, 0.0])
                    for i, value in enumerate(row):
                        acc[i] += value
        return {scope: {name: Regret(int(acc[0]), acc[1], acc[2])
                        for name, acc in sorted(rows.items(), key=lambda r: (r[0] == ALL, r[0]))}
                for scope, rows in sums.items()}


def _named_categories(payload: Mapping[str, Any], category_of: Mapping[str, str]
                      ) -> tuple[str, ...]:
    """The categories a message names besides its offer's (as the shop's customers read it)."""
    found = [payload.get("last_category"), payload.get("category")]
    for key in ("items", "recommendations"):
        for entry in payload.get(key) or ():
            item_id = entry.get("item_id") if isinstance(entry, dict) else entry
            if isinstance(item_id, str):
                found.append(category_of.get(item_id))
    return tuple(dict.fromkeys(c for c in found if isinstance(c, str)))


def simulate(*, seed: int = 7, customers: int = 2000, days: int = 120,
             settings: EngineSettings | None = None) -> LoopReport:
    """Run the closed loop once and report measured uplift against the simulator's truth."""
    return ClosedLoop(seed=seed, customers=customers, days=days, settings=settings).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m nextbest.experiments.closed_loop [--seed N] [--customers N] [--days N]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = simulate(seed=args.seed, customers=args.customers, days=args.days)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
