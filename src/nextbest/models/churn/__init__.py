"""Churn risk against the customer's own baseline, with delayed labels, and predicted value."""

from nextbest.models.churn.classifier import Calibration, LapseClassifier
from nextbest.models.churn.features import FEATURES, ChurnInputs, extract
from nextbest.models.churn.labels import DelayedLabels, Outcome, Snapshot
from nextbest.models.churn.model import ChurnModel, ChurnScore
from nextbest.models.churn.value import ValueModel

__all__ = [
    "FEATURES",
    "Calibration",
    "ChurnInputs",
    "ChurnModel",
    "ChurnScore",
    "DelayedLabels",
    "LapseClassifier",
    "Outcome",
    "Snapshot",
    "ValueModel",
    "extract",
]
