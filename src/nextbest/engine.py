"""The engine's pure step: ``event + state -> new state + decisions``.

No Kafka here. The streaming layer, replay, benchmarks and tests all drive the same two calls:

* :meth:`Engine.step` when an event for a customer arrives;
* :meth:`Engine.wake` when event time passes the moment a customer asked to be woken at
  (``StepResult.wake_at``), which is how absence of events (a lapse, an abandoned cart) becomes
  a decision.

>>> engine = Engine()
>>> ret = {"event_id": "e1", "event_time": 1_000, "customer": {"email": "lisa@example.com"},
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

from dataclasses import asdict, dataclass, field
from typing import Any

from nextbest.decisions.policies import Policy, Trigger, default_policies
from nextbest.decisions.record import Decision
from nextbest.models.suite import ModelSuite
from nextbest.profile.merge import merge_profiles
from nextbest.profile.state import EMAIL_TIMES, RECENT_DECISIONS, RECENT_EVENTS, CustomerProfile
from nextbest.profile.update import apply_event, remember_time
from nextbest.settings import DAY_MS, EngineSettings

SENT_RETENTION_MS = 365 * DAY_MS
SHOWN_ITEMS = 200
"""Items whose recommendation count a profile keeps (oldest forgotten first)."""


@dataclass(slots=True)
class StepResult:
    profile: CustomerProfile
    decisions: list[Decision] = field(default_factory=list)
    duplicate: bool = False

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
        observation = self.models.observe(profile, family, event)
        trigger = Trigger(event_id, int(event["event_time"]), family, event, self.models,
                          observation)
        candidates = [d for p in self.policies for d in p.react(profile, trigger, self.settings)]
        return StepResult(profile, self._admit(profile, candidates))

    def wake(self, profile: CustomerProfile, now: int, *, reason: str = "clock") -> StepResult:
        """Let time-driven policies act at event time ``now``."""
        due = min(profile.due.values()) if profile.due else None
        if due is None or now < due:
            return StepResult(profile)
        self.models.rescore(profile, now)
        trigger = Trigger(f"{reason}:{now}", now, models=self.models)
        candidates = [d for p in self.policies for d in p.wake(profile, trigger, self.settings)]
        return StepResult(profile, self._admit(profile, candidates))

    def merge(self, survivor: CustomerProfile, absorbed: CustomerProfile) -> CustomerProfile:
        """Fold a duplicate profile into the surviving one when two identities turn out one."""
        merged = merge_profiles(survivor, absorbed)
        for policy in self.policies:
            # Re-arm timers from the merged facts (e.g. a usual gap that now exists).
            policy.react(merged, Trigger(f"merge:{absorbed.customer_id}", merged.last_seen),
                         self.settings)
        return merged

    def _admit(self, profile: CustomerProfile, candidates: list[Decision]) -> list[Decision]:
        admitted = []
        for decision in candidates:
            if decision.decision_id in profile.sent:
                continue
            profile.sent[decision.decision_id] = decision.decided_at
            profile.recent_decisions.append(_summary(decision))
            if decision.channel == "email":
                remember_time(profile.email_send_times, decision.decided_at, EMAIL_TIMES)
            for item in decision.payload.get("recommendations") or ():
                profile.shown[item["item_id"]] = profile.shown.get(item["item_id"], 0) + 1
            for stale in list(profile.shown)[:-SHOWN_ITEMS]:
                del profile.shown[stale]
            admitted.append(decision)
        if admitted:
            del profile.recent_decisions[:-RECENT_DECISIONS]
            horizon = admitted[-1].decided_at - SENT_RETENTION_MS
            profile.sent = {k: t for k, t in profile.sent.items() if t >= horizon}
        return admitted


def _summary(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "decision_type": decision.decision_type,
        "channel": decision.channel,
        "decided_at": decision.decided_at,
        "reasons": [asdict(r) for r in decision.reasons],
    }
