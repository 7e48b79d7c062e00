"""Review follow-ups (use case 3): a review request after a positive resolved conversation,
when the customer never reviewed - never after a negative one - and a thank-you after a review.

Hannah's question about her order was answered and she said thanks: she has never reviewed, so
she is asked for one. When she writes it, she is thanked for it.
"""

from __future__ import annotations

from nextbest.decisions.policies.base import Trigger, message_channel, ttl_ms
from nextbest.decisions.record import Decision, Reason
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings

THANKED_RATING = 3
"""Reviews with at least this many stars are thanked; lower ones are complaints."""


class ReviewFollowUpPolicy:
    name = "review_follow_up"
    decision_types = ("review_request", "thank_you")

    def react(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        if event is None:
            return []
        if trigger.family == "support" and event["kind"] == "resolved":
            return self._request(profile, trigger, settings)
        if trigger.family == "review" and int(event["rating"]) >= THANKED_RATING:
            return self._thank(profile, trigger, settings)
        return []

    def _request(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        conversation = profile.conversation
        mood = profile.sentiment
        if (profile.reviews > 0 or conversation is None or mood is None
                or mood < settings.review_request_min_sentiment):
            return []
        channel = message_channel(profile, ("email",))
        if channel is None:
            return []
        now = trigger.event_time
        last = profile.recent_orders[-1] if profile.recent_orders else None
        return [Decision.create(
            decision_type="review_request",
            customer_id=profile.customer_id,
            trigger=conversation.conversation_id,
            action="send_message",
            channel=channel,
            payload={"template": "review_request", "conversation_id": conversation.conversation_id,
                     "order_id": last.order_id if last else None,
                     "items": last.items if last else []},
            reasons=(
                Reason("positive_resolution",
                       f"The conversation was resolved and the customer's tone was positive "
                       f"({mood:+.2f})."),
                Reason("never_reviewed", "The customer has not written a review yet."),
            ),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores={"sentiment": round(mood, 4), "reviews": 0.0},
        )]

    def _thank(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        event = trigger.event
        assert event is not None
        channel = message_channel(profile, ("email",))
        if channel is None:
            return []
        now = trigger.event_time
        rating = int(event["rating"])
        return [Decision.create(
            decision_type="thank_you",
            customer_id=profile.customer_id,
            trigger=event["review_id"],
            action="send_message",
            channel=channel,
            payload={"template": "thank_you_review", "review_id": event["review_id"],
                     "item_id": event.get("item_id"), "rating": rating},
            reasons=(Reason("review_written",
                            f"The customer wrote a {rating}-star review"
                            + (" - their first." if profile.reviews == 1 else ".")),),
            causing_event_id=trigger.event_id,
            causing_event_time=now,
            decided_at=now,
            ttl_ms=ttl_ms(settings),
            scores={"rating": float(rating), "reviews": float(profile.reviews)},
        )]

    def wake(
        self, profile: CustomerProfile, trigger: Trigger, settings: EngineSettings
    ) -> list[Decision]:
        return []
