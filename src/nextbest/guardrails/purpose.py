"""What a decision is for, which decides the guardrails that apply to it.

* **marketing** decisions try to sell: consent, caps, quiet hours, complaint suppression and
  the experiment (holdout) all apply;
* **service** decisions answer something the customer asked or suffered: they are never in the
  holdout (an A/B split named in ``experiment_arms`` still applies), and consent, quiet hours
  and an incentive's bounds apply when they reach the customer directly.
"""

from __future__ import annotations

MARKETING = frozenset({
    "cart_reminder", "winback", "next_best_offer", "loyalty_reward", "review_request",
})
SERVICE = frozenset({"escalation", "support_reply", "service_recovery", "thank_you",
                     "delay_apology"})
CUSTOMER_CHANNELS = frozenset({"email", "sms", "push"})
"""Channels that reach the customer unasked; consent and quiet hours guard them."""
BEHAVIOURAL = frozenset({"cart_reminder", "next_best_offer"})
"""Decisions caused by browsing: never sent soon after the behaviour that caused them."""
REPLIES = frozenset({"support_reply"})
"""Answers to a message the customer just sent, on the channel they wrote on: no consent check
and no quiet hours (they are waiting for the answer)."""
CAP_EXEMPT = frozenset({"service_recovery", "support_reply", "escalation", "delay_apology"})
"""Customer-facing decisions that do not count against, nor are stopped by, frequency caps: an
apology the business owes does not wait because a cart reminder went out that day."""


def is_marketing(decision_type: str) -> bool:
    """Unknown types count as marketing: the stricter side is the safe default.

    >>> is_marketing("winback"), is_marketing("escalation"), is_marketing("something_new")
    (True, False, True)
    """
    return decision_type not in SERVICE
