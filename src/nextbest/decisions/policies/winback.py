"""Win-back: a customer silent for longer than their own usual gap between orders.

Lapse is relative to the customer: a weekly coffee buyer silent for three weeks is lapsing, a
twice-a-year buyer silent for three weeks is not. The usual gap is the customer's own mean
shrunk towards the population's (one or two gaps say little), and a customer still seen at all
(an email opened, a visit) is not lapsing yet: the win-back waits until they have gone quiet.
Once the churn model has warmed up, its risk must reach ``winback_min_risk`` as well. The
message names the relationship (the category they last bought).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    recommended_items,
    ttl_ms,
)
from nextbest.decisions.policies.incentives import choose_offer, price_sensitive
from nextbest.decisions.record import Decision, Reason
from nextbest.experiments.assign import unit_interval
from nextbest.models.churn.model import DEFAULT_GAP_DAYS
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

DUE_KEY = "winback"
FOLLOWUP_KEY = "winback_step2"


def judged_gap_ms(
    profile: CustomerProfile, settings: EngineSettings, prior_gap_days: float | None = None
) -> float | None:
    """The customer's usual gap between orders as a lapse is judged by: their own mean gap
    shrunk towards the population's (``prior_gap_days``, learnt by the churn model from the
    customers seen), which counts as ``winback_gap_prior_weight`` gaps of their own. One or two
    gaps say little: a short one alone would call every ordinary pause a lapse."""
    gap = profile.usual_gap_ms
    if gap is None or profile.orders < settings.winback_min_orders:
        return None
    prior = (DEFAULT_GAP_DAYS if prior_gap_days is None else prior_gap_days) * DAY_MS
    n, weight = profile.gap_count, settings.winback_gap_prior_weight
    return (n * gap + weight * prior) / (n + weight)


def lapse_threshold_ms(
    profile: CustomerProfile, settings: EngineSettings, prior_gap_days: float | None = None
) -> float | None:
    """How long a silence makes this customer lapsing, or None without a usual gap yet."""
    gap = judged_gap_ms(profile, settings, prior_gap_days)
    if gap is None:
        return None
    return max(gap, settings.winback_min_gap_days * DAY_MS) * settings.winback_gap_factor


def _prior_gap_days(trigger: Trigger) -> float | None:
    return trigger.models.churn.prior_gap_days if trigger.models is not None else None


class WinbackPolicy:
    name = "winback"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        threshold = lapse_threshold_ms(profile, settings, _prior_gap_days(trigger))
        if threshold is not None and profile.last_order_at is not None:
            profile.due[DUE_KEY] = profile.last_order_at + int(threshold)
        return []

    def still_relevant(self, profile: CustomerProfile, decision: Decision) -> bool:
        """A held win-back goes out only if no order came in the meantime."""
        last = profile.recent_orders[-1].order_id if profile.recent_orders else None
        return last == decision.payload.get("last_order_id")

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        followup = self._followup(profile, trigger, settings)
        due = profile.due.get(DUE_KEY)
        threshold = lapse_threshold_ms(profile, settings, _prior_gap_days(trigger))
        if due is None or trigger.event_time < due:
            return followup
        del profile.due[DUE_KEY]
        last_order = profile.recent_orders[-1] if profile.recent_orders else None
        if threshold is None or last_order is None or profile.last_order_at is None:
            return followup
        decided = Decision.make_id("winback", profile.customer_id, f"after:{last_order.order_id}")
        if profile.decided(decided):
            return followup  # this lapse was decided already (an event re-armed the timer)
        risk = profile.scores.get("churn_risk")
        silence = trigger.event_time - profile.last_order_at
        within_patience = threshold * settings.winback_patience
        quiet_ms = int(settings.winback_quiet_days * DAY_MS)
        if trigger.event_time - profile.last_seen < quiet_ms:
            # Still around (opening emails, browsing, writing): not lapsing yet. Look again once
            # they could have been quiet long enough, within patience.
            again = profile.last_seen + quiet_ms
            if again - profile.last_order_at <= within_patience:
                profile.due[DUE_KEY] = again
            return followup
        trained = trigger.models is not None and trigger.models.churn_trained
        if trained and risk is not None and risk < settings.winback_min_risk:
            # A trained churn model does not see a lapse yet: look again later, within patience.
            if silence + threshold / 2 <= within_patience:
                profile.due[DUE_KEY] = trigger.event_time + int(threshold / 2)
            return followup
        tier = str(profile.scores.get("value_tier") or "middle")
        risk_why = risk_reasons(profile, settings)
        if tier == "top":
            return [outreach_task(profile, trigger, settings, last_order.order_id, risk_why)]
        # The bottom tier gets one plain email; without email consent it is let lapse.
        channels = ("email",) if tier == "low" else ("email", "push", "sms")
        channel = message_channel(profile, channels)
        if channel is None:
            return []
        decision = winback_message(profile, trigger, settings, channel=channel, tier=tier,
                                   step=1, risk_why=risk_why)
        if tier != "low":
            profile.due[FOLLOWUP_KEY] = trigger.event_time + int(
                settings.winback_followup_days * DAY_MS)
        return [decision]

    def _followup(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        due = profile.due.get(FOLLOWUP_KEY)
        if due is None or trigger.event_time < due:
            return []
        del profile.due[FOLLOWUP_KEY]
        last = profile.recent_orders[-1] if profile.recent_orders else None
        if last is None or profile.last_order_at is None:
            return []
        if profile.last_order_at > due - int(settings.winback_followup_days * DAY_MS):
            return []  # they came back after the first step
        channel = message_channel(profile, ("email", "push", "sms"))
        if channel is None:
            return []
        tier = str(profile.scores.get("value_tier") or "middle")
        return [winback_message(profile, trigger, settings, channel=channel, tier=tier, step=2,
                                risk_why=risk_reasons(profile, settings))]


def winback_message(
    profile: CustomerProfile, trigger: Trigger, settings: EngineSettings, *, channel: str,
    tier: str, step: int, risk_why: list[Reason],
) -> Decision:
    """A win-back message: one plain email for the bottom tier, a two-step sequence with an
    incentive fitted to the customer for the middle."""
    now = trigger.event_time
    last_order = profile.recent_orders[-1]
    assert profile.last_order_at is not None
    silent_days = (now - profile.last_order_at) / DAY_MS
    usual_days = (profile.usual_gap_ms or 0.0) / DAY_MS
    category = profile.last_category
    offer: dict[str, Any] | None = None
    offer_why: list[Reason] = []
    if tier != "low":
        sensitive = price_sensitive(profile, settings)
        offer, offer_why = choose_offer(profile, trigger, settings,
                                        {"discount"} if sensitive else {"upgrade"})
        if offer is not None:
            offer_why.insert(0, Reason(
                "incentive_fit",
                f"Used discount codes on {profile.discounted_orders} of {profile.orders} orders: "
                + ("price sensitive, so a discount." if sensitive
                   else "not price sensitive, so an upgrade.")))
    return Decision.create(
        decision_type="winback",
        customer_id=profile.customer_id,
        # One win-back sequence per lapse: only a new order re-arms it.
        trigger=f"after:{last_order.order_id}" + (f":step{step}" if step > 1 else ""),
        action="send_message",
        channel=channel,
        payload={
            "template": "winback" if step == 1 else "winback_followup",
            "tier": tier,
            "sequence_step": step,
            "sequence_steps": 1 if tier == "low" else 2,
            "last_category": category,
            "offer": offer,
            "recommendations": recommended_items(
                profile, trigger, settings.recommendations_per_message,
                context=last_order.items),
            "last_order_id": last_order.order_id,
            "customer": customer_summary(profile, now),
        },
        reasons=(
            Reason(
                "beyond_usual_gap",
                f"No order for {silent_days:.0f} days; this customer usually orders "
                f"every {usual_days:.0f} days.",
            ),
            *risk_why,
            Reason(
                "relationship",
                f"Last bought {category}." if category else "Has ordered before.",
            ),
            *offer_why,
        ),
        causing_event_id=trigger.event_id,
        causing_event_time=now,
        decided_at=now,
        ttl_ms=ttl_ms(settings),
        scores={
            "days_silent": round(silent_days, 1),
            "usual_gap_days": round(usual_days, 1),
            "lifetime_value": round(profile.revenue, 2),
            **numeric_scores(profile, ("churn_risk", "expected_value")),
            **({"offer_cost": offer["cost"]} if offer else {}),
        },
    )


def outreach_task(
    profile: CustomerProfile, trigger: Trigger, settings: EngineSettings, order_id: str,
    risk_why: list[Reason],
) -> Decision:
    """Top tier: a person calls or writes, addressed to a named owner, with the full picture."""
    now = trigger.event_time
    owners = settings.account_owners or ("Key account team",)
    owner = owners[int(unit_interval("owner", profile.customer_id) * len(owners))]
    category = profile.last_category
    return Decision.create(
        decision_type="winback",
        customer_id=profile.customer_id,
        trigger=f"after:{order_id}",
        action="create_task",
        channel="task",
        payload={
            "template": "personal_outreach",
            "tier": "top",
            "owner": owner,
            "last_category": category,
            "last_order_id": order_id,
            "recent_orders": [asdict(o) for o in profile.recent_orders],
            "recommendations": recommended_items(
                profile, trigger, settings.recommendations_per_message,
                context=profile.recent_orders[-1].items),
            "customer": customer_summary(profile, now),
        },
        reasons=(
            Reason("personal_outreach",
                   f"Top tier of predicted value: {owner} reaches out in person."),
            *risk_why,
            Reason("relationship",
                   f"Last bought {category}." if category else "Has ordered before."),
        ),
        causing_event_id=trigger.event_id,
        causing_event_time=now,
        decided_at=now,
        ttl_ms=ttl_ms(settings),
        scores={"lifetime_value": round(profile.revenue, 2),
                **numeric_scores(profile, ("churn_risk", "expected_value"))},
    )


def risk_reasons(profile: CustomerProfile, settings: EngineSettings) -> list[Reason]:
    """Why the models agree this customer is worth winning back (nothing without scores)."""
    risk = profile.scores.get("churn_risk")
    if risk is None:
        return []
    tier = profile.scores.get("value_tier") or "middle"
    value = profile.scores.get("expected_value") or 0.0
    return [
        Reason("churn_risk", f"The churn model puts the risk of no order at {risk:.0%}."),
        Reason("value_tier", f"Predicted value {value:.2f}: {tier} tier of customers."),
    ]
