"""Cart-abandonment reminder: items left in the cart with no order after a delay."""

from __future__ import annotations

from nextbest.decisions.policies.base import Trigger, message_channel, recommended_items, ttl_ms
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import MINUTE_MS, EngineSettings

DUE_KEY = "cart_reminder"


class CartReminderPolicy:
    name = "cart_reminder"

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        if profile.cart:
            newest = max(line.added_at for line in profile.cart)
            profile.due[DUE_KEY] = newest + settings.cart_reminder_delay_ms
        else:
            profile.due.pop(DUE_KEY, None)
        return []

    def still_relevant(self, profile: CustomerProfile, decision: Decision) -> bool:
        """A held reminder goes out only while one of its items is still in the cart."""
        in_cart = {line.item_id for line in profile.cart}
        return any(item["item_id"] in in_cart for item in decision.payload.get("items", ()))

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        due = profile.due.get(DUE_KEY)
        if due is None or trigger.event_time < due:
            return []
        del profile.due[DUE_KEY]
        if not profile.cart:
            return []
        channel = message_channel(profile, ("email", "push"))
        if channel is None:
            return []
        newest = max(profile.cart, key=lambda line: line.added_at)
        decided = Decision.make_id("cart_reminder", profile.customer_id, newest.event_id)
        if profile.decided(decided):
            return []  # this cart was decided already (an event re-armed the timer)
        idle_minutes = (trigger.event_time - newest.added_at) / MINUTE_MS
        items = [
            {"item_id": line.item_id, "category": line.category, "price": line.price}
            for line in profile.cart
        ]
        value = sum(line.price or 0.0 for line in profile.cart)
        in_cart = [line.item_id for line in profile.cart]
        suggestions = recommended_items(profile, trigger, settings.recommendations_per_message,
                                        context=in_cart, exclude=set(in_cart))
        return [
            Decision.create(
                decision_type="cart_reminder",
                customer_id=profile.customer_id,
                # One reminder per cart state: a new add-to-cart makes a new trigger.
                trigger=newest.event_id,
                action="send_message",
                channel=channel,
                payload={"template": "cart_reminder", "items": items, "cart_value": value,
                         "recommendations": suggestions},
                reasons=(
                    Reason(
                        "cart_abandoned",
                        f"{len(items)} item(s) left in the cart for {idle_minutes:.0f} minutes "
                        "without an order.",
                    ),
                ),
                causing_event_id=newest.event_id,
                causing_event_time=newest.added_at,
                decided_at=trigger.event_time,
                ttl_ms=ttl_ms(settings),
                scores={"cart_value": round(value, 2)},
            )
        ]
