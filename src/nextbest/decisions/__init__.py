"""Decisions: the record, the policies that make them and the helpers they share."""

from nextbest.decisions.record import Decision, Reason

__all__ = ["Decision", "Reason"]
