"""Stepping one customer's events through an engine, in order, for tests of what it decides."""

from __future__ import annotations

from typing import Any

from nextbest.decisions.record import Decision
from nextbest.engine import Engine
from nextbest.profile.state import CustomerProfile


def feed(engine: Engine, customer_id: str, events: list[tuple[str, dict[str, Any]]],
         profile: CustomerProfile | None = None) -> tuple[CustomerProfile, list[Decision]]:
    """Every ``(family, event)`` stepped in turn: the last profile and all the decisions."""
    decisions: list[Decision] = []
    for family, event in events:
        result = engine.step(profile, customer_id, family, event)
        profile = result.profile
        decisions.extend(result.decisions)
    assert profile is not None
    return profile, decisions
