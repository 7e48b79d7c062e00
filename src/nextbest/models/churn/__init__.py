"""Churn risk against the customer's own baseline, with delayed labels, and predicted value.

``ChurnModel`` is the entry point: ``score``, ``observe``, ``purchase``, ``advance``,
``forget``. It reads a plain ``ChurnInputs`` built by the caller; no Kafka, picklable.
"""

from nextbest.models.churn.classifier import Calibration, LapseClassifier
from nextbest.models.churn.features import FEATURES, ChurnInputs, Standardiser, extract
from nextbest.models.churn.labels import DelayedLabels, Outcome, Snapshot
from nextbest.models.churn.linear import OnlineGLM
from nextbest.models.churn.model import ChurnModel, ChurnScore
from nextbest.models.churn.value import Forecast, ValueModel

__all__ = [
    "FEATURES",
    "Calibration",
    "ChurnInputs",
    "ChurnModel",
    "ChurnScore",
    "DelayedLabels",
    "Forecast",
    "LapseClassifier",
    "OnlineGLM",
    "Outcome",
    "Snapshot",
    "Standardiser",
    "ValueModel",
    "extract",
]
