"""The decision policies, in the order the engine asks them."""

from nextbest.decisions.policies.base import Policy, Trigger
from nextbest.decisions.policies.cart_reminder import CartReminderPolicy
from nextbest.decisions.policies.delay_apology import DelayApologyPolicy
from nextbest.decisions.policies.escalation import EscalationPolicy
from nextbest.decisions.policies.loyalty import LoyaltyRewardPolicy
from nextbest.decisions.policies.next_best_offer import NextBestOfferPolicy
from nextbest.decisions.policies.reviews import ReviewFollowUpPolicy
from nextbest.decisions.policies.service_recovery import ServiceRecoveryPolicy
from nextbest.decisions.policies.support_triage import SupportTriagePolicy
from nextbest.decisions.policies.winback import WinbackPolicy

DECISION_TYPES = (
    "escalation", "support_reply", "service_recovery", "cart_reminder", "winback",
    "next_best_offer", "loyalty_reward", "review_request", "thank_you", "delay_apology",
)
"""Every decision type the default policies make (one decisions.<type> topic each)."""


def default_policies() -> list[Policy]:
    return [EscalationPolicy(), SupportTriagePolicy(), ServiceRecoveryPolicy(),
            DelayApologyPolicy(), CartReminderPolicy(), WinbackPolicy(), NextBestOfferPolicy(),
            LoyaltyRewardPolicy(), ReviewFollowUpPolicy()]


__all__ = [
    "DECISION_TYPES",
    "CartReminderPolicy",
    "DelayApologyPolicy",
    "EscalationPolicy",
    "LoyaltyRewardPolicy",
    "NextBestOfferPolicy",
    "Policy",
    "ReviewFollowUpPolicy",
    "ServiceRecoveryPolicy",
    "SupportTriagePolicy",
    "Trigger",
    "WinbackPolicy",
    "default_policies",
]
