"""The decision policies, in the order the engine asks them."""

from nextbest.decisions.policies.base import Policy, Trigger
from nextbest.decisions.policies.cart_reminder import CartReminderPolicy
from nextbest.decisions.policies.escalation import EscalationPolicy
from nextbest.decisions.policies.service_recovery import ServiceRecoveryPolicy
from nextbest.decisions.policies.winback import WinbackPolicy


def default_policies() -> list[Policy]:
    return [EscalationPolicy(), ServiceRecoveryPolicy(), CartReminderPolicy(), WinbackPolicy()]


__all__ = [
    "CartReminderPolicy",
    "EscalationPolicy",
    "Policy",
    "ServiceRecoveryPolicy",
    "Trigger",
    "WinbackPolicy",
    "default_policies",
]
