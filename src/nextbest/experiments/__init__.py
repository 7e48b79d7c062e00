"""Experiments: who is held out, what followed each decision, and the uplift it made."""

from nextbest.experiments.assign import CONTROL, HOLDOUT, NOT_SENT, TREATMENT, arm_for
from nextbest.experiments.attribution import Outcome, close_due, credit, expose
from nextbest.experiments.uplift import Interval, Uplift, render, uplift

__all__ = [
    "CONTROL",
    "HOLDOUT",
    "NOT_SENT",
    "TREATMENT",
    "Interval",
    "Outcome",
    "Uplift",
    "arm_for",
    "close_due",
    "credit",
    "expose",
    "render",
    "uplift",
]
