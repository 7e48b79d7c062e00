"""Guardrails: what stops, delays or holds out a decision, and why (see ``review.py``)."""

from nextbest.guardrails.budget import IncentiveBudget, incentive_cap, predicted_value
from nextbest.guardrails.purpose import is_marketing
from nextbest.guardrails.review import (
    CONTROL,
    DEFERRED,
    SENT,
    SUPPRESSED,
    Guardrails,
    Verdict,
    offer_cost,
)

__all__ = [
    "CONTROL",
    "DEFERRED",
    "SENT",
    "SUPPRESSED",
    "Guardrails",
    "IncentiveBudget",
    "Verdict",
    "incentive_cap",
    "is_marketing",
    "offer_cost",
    "predicted_value",
]
