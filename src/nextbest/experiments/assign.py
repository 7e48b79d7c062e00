"""Deterministic experiment assignment: the same customer always lands in the same arm.

A global **holdout** (``holdout_share`` of customers) receives no marketing at all, so the
revenue the decisions add can be measured against customers who got none. Everyone else is in
the ``treatment`` arm, unless ``experiment_arms`` splits a decision type into named arms; an
arm called ``control`` is logged and never sent.

>>> from nextbest.settings import EngineSettings
>>> s = EngineSettings(holdout_share=0.1)
>>> arms = [arm_for(f"nb-{i}", "winback", s) for i in range(10_000)]
>>> round(arms.count(HOLDOUT) / len(arms), 2)
0.1
>>> arm_for("nb-7", "winback", s) == arm_for("nb-7", "winback", s)
True
"""

from __future__ import annotations

import hashlib

from nextbest.settings import EngineSettings

HOLDOUT = "holdout"
CONTROL = "control"
TREATMENT = "treatment"
NOT_SENT = frozenset({HOLDOUT, CONTROL})
"""Arms whose decisions are logged, never sent."""


def unit_interval(*parts: str) -> float:
    """A uniform number in [0, 1) from a hash of ``parts`` (stable across runs and machines)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def arm_for(customer_id: str, decision_type: str, settings: EngineSettings, *,
            holdout: bool = True) -> str:
    """The arm of ``customer_id`` for one decision type (``holdout=False``: a service decision,
    never in the holdout, drawn from its own arms only).

    >>> s = EngineSettings(holdout_share=1.0, experiment_arms={"delay_apology": {"control": 1}})
    >>> arm_for("nb-7", "delay_apology", s), arm_for("nb-7", "delay_apology", s, holdout=False)
    ('holdout', 'control')
    """
    if holdout and (unit_interval(settings.experiment_salt, "holdout", customer_id)
                    < settings.holdout_share):
        return HOLDOUT
    arms = settings.experiment_arms.get(decision_type)
    if not arms:
        return TREATMENT
    total = sum(max(0.0, w) for w in arms.values())
    if total <= 0:
        return TREATMENT
    x = unit_interval(settings.experiment_salt, decision_type, customer_id) * total
    for name, weight in arms.items():
        x -= max(0.0, weight)
        if x < 0:
            return name
    return next(reversed(arms))
