"""The guardrails every candidate decision passes before it may reach anyone.

:meth:`Guardrails.review` returns a :class:`Verdict`: ``sent``, ``control`` (held out by an
experiment: logged, never sent), ``suppressed`` (a rule stopped it; ``rule`` says which) or
``deferred`` (it waits until ``until``: quiet hours, the behavioural delay). Rules run from the
hardest (consent) to the softest; the experiment arm is drawn last, so treatment and control
customers pass the same rules and stay comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from nextbest.decisions.record import Decision
from nextbest.experiments.assign import NOT_SENT, arm_for
from nextbest.guardrails.budget import IncentiveBudget, incentive_cap
from nextbest.guardrails.localtime import quiet_until, zone
from nextbest.guardrails.purpose import (
    BEHAVIOURAL,
    CAP_EXEMPT,
    CUSTOMER_CHANNELS,
    REPLIES,
    is_marketing,
)
from nextbest.guardrails.send_time import send_at
from nextbest.models.send_time import OpenHours
from nextbest.profile.state import CustomerProfile
from nextbest.settings import DAY_MS, EngineSettings

SENT, CONTROL, SUPPRESSED, DEFERRED = "sent", "control", "suppressed", "deferred"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    decision: Decision
    rule: str | None = None
    text: str | None = None
    until: int | None = None


class Guardrails:
    """Consent, complaint suppression, stock and repetition, behavioural delay, quiet hours,
    send time, frequency caps, incentive budget, then the experiment arm.

    ``in_stock`` tells whether an item may be shown at an event time (the models' catalog);
    ``budget`` is the worker's incentive spend; ``open_hours`` when everyone reads email.
    """

    def __init__(
        self,
        settings: EngineSettings,
        *,
        in_stock: Callable[[str, int], bool] | None = None,
        budget: IncentiveBudget | None = None,
        open_hours: OpenHours | None = None,
    ) -> None:
        self.settings = settings
        self.in_stock = in_stock or (lambda item, at: True)
        self.budget = budget if budget is not None else IncentiveBudget()
        self.open_hours = open_hours if open_hours is not None else OpenHours()

    def review(self, profile: CustomerProfile, decision: Decision, now: int, *,
               send_time: bool = True) -> Verdict:
        """The verdict on ``decision`` at event time ``now``; ``send_time=False`` for one that
        waited for its send time already."""
        s = self.settings
        marketing = is_marketing(decision.decision_type)
        reaches_customer = (decision.channel in CUSTOMER_CHANNELS
                            and decision.decision_type not in REPLIES)
        if decision.expires_at is not None and now > decision.expires_at:
            return _stop(decision, "expired", "It expired before it could be sent.")
        if _opted_out(profile, decision, marketing, reaches_customer):
            return _stop(decision, "consent",
                         f"The customer has not consented to {decision.channel or 'contact'}.")
        if marketing and _complained_recently(profile, now, s):
            return _stop(decision, "after_complaint",
                         f"The customer complained within {s.complaint_suppression_days:g} days.")
        decision, emptied = self._drop_unshowable_items(profile, decision, now)
        if emptied:
            return _stop(decision, "out_of_stock",
                         "Every item it would show is out of stock or was shown "
                         f"{s.max_item_shows} times.")
        if decision.decision_type in BEHAVIOURAL:
            ready_at = decision.causing_event_time + s.behavioural_delay_ms
            if now < ready_at:
                return Verdict(DEFERRED, decision, "behavioural_delay",
                               f"Waits {s.behavioural_delay_hours:g} h after the behaviour.",
                               ready_at)
        if reaches_customer:
            tz = zone(profile.timezone, s.default_timezone)
            until = quiet_until(now, tz, s.quiet_hours_start, s.quiet_hours_end)
            if until is not None:
                return Verdict(DEFERRED, decision, "quiet_hours",
                               "Quiet hours in the customer's time zone.", until)
            if send_time and self._timed(decision):
                until = send_at(now, tz, profile.email_open_times, self.open_hours,
                                quiet_start=s.quiet_hours_start, quiet_end=s.quiet_hours_end,
                                max_wait_ms=s.send_time_max_wait_ms)
                if until is not None and (decision.expires_at is None
                                          or until <= decision.expires_at):
                    return Verdict(DEFERRED, decision, "send_time",
                                   "Waits for the hour the customer usually reads email at.",
                                   until)
            if decision.decision_type not in CAP_EXEMPT:
                capped = _frequency_cap(profile, decision.channel or "", now, s)
                if capped:
                    return _stop(decision, "frequency_cap", capped)
        cost = offer_cost(decision)
        if cost > 0:
            cap = incentive_cap(profile, s)
            if cost > cap:
                return _stop(decision, "incentive_above_value",
                             f"The incentive costs {cost:.2f}, above {cap:.2f} "
                             f"({s.incentive_value_share:.0%} of predicted value).")
            if cost > self.budget.left(now, s.incentive_budget_per_day,
                                         profile.customer_id):
                return _stop(decision, "incentive_budget", "Today's incentive budget is spent.")
        if marketing or decision.decision_type in s.experiment_arms:
            arm = arm_for(profile.customer_id, decision.decision_type, s, holdout=marketing)
            decision = replace(decision, experiment_arm=arm)
            if arm in NOT_SENT:
                return Verdict(CONTROL, decision, None, f"In the {arm} group: logged, not sent.")
        return Verdict(SENT, decision)

    def _timed(self, decision: Decision) -> bool:
        """Whether the decision waits for the customer's send time (an email of a type
        named in ``send_time_types``, with an offer only if ``send_time_offers``)."""
        s = self.settings
        return (decision.channel == "email" and decision.decision_type in s.send_time_types
                and (s.send_time_offers or (not offer_cost(decision)
                     and "offer" not in decision.payload)))

    def _drop_unshowable_items(
        self, profile: CustomerProfile, decision: Decision, now: int
    ) -> tuple[Decision, bool]:
        """Remove items out of stock at ``now`` and over-shown ones; True if nothing worth
        sending is left."""
        payload = decision.payload
        limit = self.settings.max_item_shows
        changed: dict[str, Any] = {}
        recommendations = payload.get("recommendations")
        if recommendations:
            kept = [r for r in recommendations if self.in_stock(r["item_id"], now)
                    and profile.shown.get(r["item_id"], 0) < limit]
            if len(kept) != len(recommendations):
                changed["recommendations"] = kept
        items = payload.get("items")
        only_items = decision.decision_type == "cart_reminder"
        if only_items and items:
            kept_items = [i for i in items if self.in_stock(i["item_id"], now)]
            if len(kept_items) != len(items):
                changed["items"] = kept_items
            if not kept_items:
                return decision, True
        if not changed:
            return decision, False
        return replace(decision, payload={**payload, **changed}), False


def offer_cost(decision: Decision) -> float:
    offer = decision.payload.get("offer")
    if isinstance(offer, dict):
        cost = offer.get("cost")
        if isinstance(cost, int | float):
            return float(cost)
    return 0.0


def _stop(decision: Decision, rule: str, text: str) -> Verdict:
    return Verdict(SUPPRESSED, decision, rule, text)


def _opted_out(
    profile: CustomerProfile, decision: Decision, marketing: bool, reaches_customer: bool
) -> bool:
    if profile.consent.get("all") is False and (marketing or reaches_customer):
        return True
    return reaches_customer and profile.consent.get(decision.channel or "") is False


def _complained_recently(profile: CustomerProfile, now: int, s: EngineSettings) -> bool:
    at = profile.last_complaint_at
    return at is not None and 0 <= now - at < s.complaint_suppression_days * DAY_MS


def _frequency_cap(
    profile: CustomerProfile, channel: str, now: int, s: EngineSettings
) -> str | None:
    day = [c for c in profile.contacts if now - DAY_MS < c[0] <= now]
    if sum(1 for c in day if c[1] == channel) >= s.frequency_cap_per_day:
        return f"Already {s.frequency_cap_per_day} {channel} message(s) in 24 hours."
    week = sum(1 for c in profile.contacts if now - 7 * DAY_MS < c[0] <= now)
    if week >= s.frequency_cap_per_week:
        return f"Already {s.frequency_cap_per_week} messages in 7 days."
    return None
