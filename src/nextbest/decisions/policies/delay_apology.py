"""Proactive service: a shipment is late, and the business says so before the customer asks.

A fulfilment ``delayed`` event whose new delivery date lies at least ``delay_apology_days``
past the promised one earns one apology per order - with the new date, why, where to follow the
parcel, and a gesture fitted to the customer's value and interests (:mod:`.compensation`). A
second delay of the same order sends nothing more (the decision id is the order's); a delay
under the threshold sends nothing, and a later one that takes the order past it does.

>>> from nextbest.profile.state import CustomerProfile, Shipment
>>> DAY = 86_400_000
>>> john = CustomerProfile("nb-john", orders=3, revenue=600.0, first_seen=0, shipments=[
...     Shipment("O-7", "delayed", 10 * DAY, promised_delivery=12 * DAY,
...              expected_delivery=15 * DAY, delay_reason="warehouse")])
>>> late = {"event_id": "f1", "event_time": 10 * DAY, "kind": "delayed", "order_id": "O-7"}
>>> (apology,) = DelayApologyPolicy().react(
...     john, Trigger("f1", 10 * DAY, "fulfilment", late), EngineSettings())
>>> apology.decision_type, apology.channel, apology.payload["delay_days"]
('delay_apology', 'email', 3.0)
>>> apology.decision_id == Decision.make_id("delay_apology", "nb-john", "order:O-7")
True
"""

from __future__ import annotations

from typing import Any

from nextbest.decisions.policies.base import (
    Trigger,
    customer_summary,
    message_channel,
    numeric_scores,
    ttl_ms,
)
from nextbest.decisions.policies.compensation import DEFAULT_OFFERS, delay_gesture
from nextbest.decisions.policies.shipment_status import day_words, shipment_facts
from nextbest.decisions.record import Decision, Reason
from nextbest.guardrails.localtime import zone
from nextbest.profile.state import CustomerProfile, Shipment
from nextbest.settings import DAY_MS, EngineSettings

CHANNELS = ("email", "sms", "push")


def apology_id(customer_id: str, order_id: str) -> str:
    """The one apology an order can get."""
    return Decision.make_id("delay_apology", customer_id, f"order:{order_id}")


def apologised(profile: CustomerProfile, order_id: str) -> bool:
    """Whether this order's apology was decided on - under this customer's id or under one of
    the customers merged into them (the order may have been theirs).

    >>> p = CustomerProfile("nb-a", merged_from=["nb-b"], sent={apology_id("nb-b", "O-7"): 1})
    >>> apologised(p, "O-7"), apologised(p, "O-8")
    (True, False)
    """
    return any(profile.decided(apology_id(c, order_id))
               for c in (profile.customer_id, *profile.merged_from))


class DelayApologyPolicy:
    name = "delay_apology"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        if trigger.family != "fulfilment" or event is None or event["kind"] != "delayed":
            return []
        shipment = profile.shipment(event["order_id"])
        if (shipment is None or shipment.status != "delayed"
                or shipment.promised_delivery is None or shipment.expected_delivery is None
                or shipment.delay_ms < settings.delay_apology_ms
                or apologised(profile, shipment.order_id)):
            return []
        channel = message_channel(profile, CHANNELS)
        if channel is None:
            return []
        return [self._apology(profile, trigger, settings, shipment, channel)]

    def still_relevant(self, profile: CustomerProfile, decision: Decision) -> bool:
        """A held apology announces a new date: it goes out only while the parcel is on its way."""
        shipment = profile.shipment(decision.payload.get("order_id"))
        return shipment is None or shipment.status != "delivered"

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []

    def _apology(self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings,
                 shipment: Shipment, channel: str) -> Decision:
        now = trigger.event_time
        order = next((o for o in profile.recent_orders if o.order_id == shipment.order_id), None)
        categories = order.categories if order else []
        models = trigger.models
        gesture = delay_gesture(
            profile, now=now, settings=settings, order_categories=categories,
            catalogue=models.offers.offers if models is not None else DEFAULT_OFFERS,
            budget_left=(models.budget.left(now, settings.incentive_budget_per_day,
                                            profile.customer_id)
                         if models is not None else settings.incentive_budget_per_day))
        days = shipment.delay_ms / DAY_MS
        payload: dict[str, Any] = {
            "template": "delay_apology",
            "order_id": shipment.order_id,
            "items": order.items if order else [],
            "categories": categories,
            **{k: v for k, v in shipment_facts(shipment).items() if k != "delivered_at"},
            "offer": gesture.offer,
            "category": gesture.category,
            "customer": customer_summary(profile, now),
        }
        scores = {"delay_days": round(days, 2), "lifetime_value": round(profile.revenue, 2),
                  **numeric_scores(profile, ("churn_risk", "expected_value"))}
        if gesture.offer is not None:
            scores["offer_cost"] = float(gesture.offer["cost"])
        return Decision.create(
            decision_type="delay_apology",
            customer_id=profile.customer_id,
            trigger=f"order:{shipment.order_id}",
            action="send_message",
            channel=channel,
            payload=payload,
            reasons=(*_delay_reasons(profile, shipment, now, settings), *gesture.reasons),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores=scores,
        )


def _delay_reasons(profile: CustomerProfile, shipment: Shipment, now: int,
                   settings: EngineSettings) -> tuple[Reason, ...]:
    tz = zone(profile.timezone, settings.default_timezone)
    promised = shipment.promised_delivery or now  # both set: react checked them
    expected = shipment.expected_delivery or now
    late = Reason(
        "shipment_delayed",
        f"Order {shipment.order_id} was promised for {day_words(promised, tz)} and is now "
        f"expected on {day_words(expected, tz)}: {shipment.delay_ms / DAY_MS:.1f} days late"
        + (f" ({shipment.delay_reason})" if shipment.delay_reason else "")
        + f", at least the {settings.delay_apology_days:g} days that earn an apology.")
    if now < promised:
        first = Reason("before_the_customer_asks",
                       "The promised date has not passed yet: the customer hears it from us "
                       "first.")
    else:
        first = Reason("promised_date_passed",
                       f"The promised date passed {(now - promised) / DAY_MS:.1f} days ago.")
    return late, first
