"""The engine's pure step: ``event + state -> new state + decisions``.

No Kafka here. The streaming layer, replay, benchmarks and tests all drive the same two calls:

* :meth:`Engine.step` when an event for a customer arrives;
* :meth:`Engine.wake` when event time passes the moment a customer asked to be woken at
  (``StepResult.wake_at``), which is how absence of events (a lapse, an abandoned cart) becomes
  a decision.

>>> engine = Engine()
>>> NOON = 1_700_049_600_000  # 12:00 UTC: outside quiet hours
>>> ret = {"event_id": "e1", "event_time": NOON, "customer": {"email": "lisa@example.com"},
...        "kind": "return", "order_id": "o1", "total": 59.0, "currency": "EUR",
...        "channel": "pos", "discount_codes": [], "decision_id": None,
...        "return_reason": "defective",
...        "lines": [{"item_id": "dress-1", "category": "dresses", "quantity": 1,
...                   "unit_price": 59.0}]}
>>> result = engine.step(None, "nb-lisa", "purchase", ret)
>>> [d.decision_type for d in result.decisions]
['service_recovery']
>>> engine.step(result.profile, "nb-lisa", "purchase", ret).decisions  # replayed: nothing new
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from nextbest.decisions.policies import Policy, Trigger, default_policies
from nextbest.decisions.record import Decision
from nextbest.experiments.attribution import Outcome, close_due, credit, expose
from nextbest.guardrails import (
    CONTROL,
    DEFERRED,
    SENT,
    SUPPRESSED,
    Guardrails,
    Verdict,
    is_marketing,
    offer_cost,
)
from nextbest.guardrails.purpose import CAP_EXEMPT, CUSTOMER_CHANNELS
from nextbest.models.offers import parse_offers
from nextbest.models.suite import ModelSuite
from nextbest.profile.merge import merge_profiles
from nextbest.profile.split import restored, separate_profiles
from nextbest.profile.state import (
    EMAIL_TIMES,
    MESSAGE_CONTACTS,
    RECENT_DECISIONS,
    RECENT_EVENTS,
    CustomerProfile,
)
from nextbest.profile.update import apply_event, remember_time
from nextbest.settings import DAY_MS, EngineSettings

SENT_RETENTION_MS = 365 * DAY_MS
SHOWN_ITEMS = 200
"""Items whose recommendation count a profile keeps (oldest forgotten first)."""
HELD_KEY = "held"
COMPLAINT_RATING = 2
"""A review with at most this many stars counts as a complaint."""


@dataclass(frozen=True, slots=True)
class Logged:
    """A decision as the decision log records it: sent, control, suppressed or deferred."""

    decision: Decision
    status: str
    rule: str | None = None
    text: str | None = None


@dataclass(slots=True)
class StepResult:
    profile: CustomerProfile
    decisions: list[Decision] = field(default_factory=list)
    """Decisions to send."""
    duplicate: bool = False
    logged: list[Logged] = field(default_factory=list)
    """Every verdict on a candidate decision, sent ones included (the decision log)."""
    outcomes: list[Outcome] = field(default_factory=list)
    """Exposures whose attribution window closed."""

    @property
    def wake_at(self) -> int | None:
        """The earliest event time at which this customer must be woken, if any."""
        return min(self.profile.due.values()) if self.profile.due else None


class Engine:
    """Applies events to profiles, teaches the models, and asks the policies what to do."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        policies: list[Policy] | None = None,
        models: ModelSuite | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.policies = policies if policies is not None else default_policies()
        self.models = models if models is not None else ModelSuite(
            value_top_share=self.settings.value_top_share,
            value_low_share=self.settings.value_low_share,
        )
        self.guardrails = Guardrails(self.settings, in_stock=self.models.in_stock,
                                     budget=self.models.budget,
                                     open_hours=self.models.open_hours)
        self._by_type: dict[str, Policy] = {}
        if self.settings.offers:
            self.models.offers.use_offers(parse_offers(self.settings.offers))

    def step(
        self,
        profile: CustomerProfile | None,
        customer_id: str,
        family: str,
        event: dict[str, Any],
    ) -> StepResult:
        profile = profile or CustomerProfile(customer_id)
        event_id = event["event_id"]
        if event_id in profile.recent_event_ids:
            return StepResult(profile, duplicate=True)
        profile.recent_event_ids.append(event_id)
        del profile.recent_event_ids[:-RECENT_EVENTS]
        apply_event(profile, family, event)
        credit(profile, family, event)
        observation = self.models.observe(profile, family, event)
        now = int(event["event_time"])
        if self._is_complaint(family, event, observation):
            profile.last_complaint_at = now
        trigger = Trigger(event_id, now, family, event, self.models, observation)
        candidates = [d for p in self.policies for d in p.react(profile, trigger, self.settings)]
        result = StepResult(profile)
        self._admit(result, candidates, now)
        return result

    def wake(self, profile: CustomerProfile, now: int, *, reason: str = "clock") -> StepResult:
        """Let time-driven policies act at event time ``now``; release held decisions, close
        attribution windows."""
        result = StepResult(profile)
        due = min(profile.due.values()) if profile.due else None
        if due is None or now < due:
            return result
        self.models.rescore(profile, now)
        trigger = Trigger(f"{reason}:{now}", now, models=self.models)
        candidates = [d for p in self.policies for d in p.wake(profile, trigger, self.settings)]
        released, timed = self._release_held(result, now)
        self._admit(result, candidates + released, now, timed)
        self._close(result, close_due(profile, now))
        return result

    def forget(self, customer_id: str, absorbed: Sequence[str] = ()) -> dict[str, int]:
        """Erase what the models hold about one customer and the customers merged into them
        (the profile is the caller's); returns what they held, by model."""
        return self.models.forget(customer_id, absorbed)

    def merge(self, survivor: CustomerProfile, absorbed: CustomerProfile) -> CustomerProfile:
        """Fold a duplicate profile into the surviving one when two identities turn out one."""
        merged = merge_profiles(survivor, absorbed)
        for policy in self.policies:
            # Re-arm timers from the merged facts (e.g. a usual gap that now exists).
            policy.react(merged, Trigger(f"merge:{absorbed.customer_id}", merged.last_seen),
                         self.settings)
        return merged

    def separate(self, survivor: CustomerProfile, absorbed: CustomerProfile) -> CustomerProfile:
        """Take a profile merged in by mistake back out of the survivor (a split; what can be
        told apart, see ``profile/split.py``)."""
        separated = separate_profiles(survivor, absorbed)
        for policy in self.policies:
            policy.react(separated, Trigger(f"split:{absorbed.customer_id}",
                                            separated.last_seen), self.settings)
        return separated

    def restore(self, absorbed: CustomerProfile) -> CustomerProfile:
        """A customer merged away by mistake, its own again from its profile at the merge."""
        profile = restored(absorbed)
        for policy in self.policies:
            policy.react(profile, Trigger(f"split:{profile.customer_id}", profile.last_seen),
                         self.settings)
        return profile

    def _is_complaint(self, family: str, event: dict[str, Any], observation: Any) -> bool:
        if family == "review":
            return int(event["rating"]) <= COMPLAINT_RATING
        if family == "support" and event.get("author") == "customer":
            score = observation.sentiment if observation is not None else None
            limit = self.settings.complaint_negative_sentiment
            return score is not None and score.negative >= limit
        return False

    def _admit(self, result: StepResult, candidates: list[Decision], now: int,
               timed: frozenset[str] = frozenset()) -> None:
        """Review and record ``candidates``; those in ``timed`` have waited for their send
        time once already and do not again (a clock that jumps past the hour would otherwise
        find it gone each time)."""
        profile = result.profile
        for decision in candidates:
            if profile.decided(decision.decision_id):
                continue
            waited = decision.decision_id in timed
            verdict = self.guardrails.review(profile, decision, now, send_time=not waited)
            self._record(result, verdict, now, timed=waited or verdict.rule == "send_time")
        if result.decisions:
            del profile.recent_decisions[:-RECENT_DECISIONS]
            horizon = now - SENT_RETENTION_MS
            profile.sent = {k: t for k, t in profile.sent.items() if t >= horizon}

    def _record(self, result: StepResult, verdict: Verdict, now: int, *,
                timed: bool = False) -> None:
        profile, decision = result.profile, verdict.decision
        result.logged.append(Logged(decision, verdict.status, verdict.rule, verdict.text))
        if verdict.status == DEFERRED:
            assert verdict.until is not None
            held = {"release_at": verdict.until, "rule": verdict.rule,
                    "record": decision.to_record()}
            if timed:
                held["timed"] = True
            profile.held.append(held)
            profile.due[HELD_KEY] = min(h["release_at"] for h in profile.held)
            return
        profile.sent[decision.decision_id] = now
        if verdict.status == SUPPRESSED:
            return
        if decision.channel in CUSTOMER_CHANNELS and decision.decision_type not in CAP_EXEMPT:
            # Control decisions count too, so both arms meet the same caps.
            profile.contacts.append([now, decision.channel])
            del profile.contacts[:-MESSAGE_CONTACTS]
        if is_marketing(decision.decision_type):
            window = self.settings.attribution_window_ms
            self._close(result, expose(profile, decision, sent=verdict.status == SENT, now=now,
                                       window_ms=window))
        if verdict.status == CONTROL:
            return
        assert verdict.status == SENT
        result.decisions.append(decision)
        profile.recent_decisions.append(_summary(decision))
        if decision.decision_type == "escalation":
            profile.last_complaint_at = now
        if decision.channel == "email":
            remember_time(profile.email_send_times, now, EMAIL_TIMES)
        for item in decision.payload.get("recommendations") or ():
            profile.shown[item["item_id"]] = profile.shown.get(item["item_id"], 0) + 1
        for stale in list(profile.shown)[:-SHOWN_ITEMS]:
            del profile.shown[stale]
        cost = offer_cost(decision)
        if cost:
            self.guardrails.budget.spend(now, cost, decision.customer_id)

    def _release_held(self, result: StepResult, now: int
                      ) -> tuple[list[Decision], frozenset[str]]:
        """Held decisions whose moment came and that still apply; the ids of those that
        waited for their send time already."""
        profile = result.profile
        ready = [h for h in profile.held if h["release_at"] <= now]
        if not ready:
            return [], frozenset()
        profile.held = [h for h in profile.held if h["release_at"] > now]
        if profile.held:
            profile.due[HELD_KEY] = min(h["release_at"] for h in profile.held)
        else:
            profile.due.pop(HELD_KEY, None)
        released = []
        for entry in ready:
            decision = replace(Decision.from_record(entry["record"]), decided_at=now)
            policy = self._policy_for(decision.decision_type)
            still = getattr(policy, "still_relevant", None)
            if still is not None and not still(profile, decision):
                profile.sent[decision.decision_id] = now
                result.logged.append(Logged(decision, SUPPRESSED, "no_longer_relevant",
                                            "What caused it has changed since."))
                continue
            released.append(decision)
        timed = frozenset(h["record"]["decision_id"] for h in ready if h.get("timed"))
        return released, timed

    def _policy_for(self, decision_type: str) -> Policy | None:
        if not self._by_type:
            for policy in self.policies:
                for kind in getattr(policy, "decision_types", (policy.name,)):
                    self._by_type[kind] = policy
        return self._by_type.get(decision_type)

    def _close(self, result: StepResult, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.models.learn_outcome(outcome)
        result.outcomes.extend(outcomes)


def _summary(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "decision_type": decision.decision_type,
        "channel": decision.channel,
        "decided_at": decision.decided_at,
        "reasons": [asdict(r) for r in decision.reasons],
    }
