"""A contextual bandit that picks an offer and learns from outcomes: linear Thompson sampling.

Each offer has its own ridge regression of reward on the context (disjoint arms), kept as the
inverse design matrix and updated with Sherman-Morrison, so one outcome costs O(d²) and the
whole model O(offers · d²). To choose, the expected reward of every affordable offer is drawn
from its posterior (mean ± ``exploration`` · standard error) and the highest draw wins: offers
the bandit knows little about get tried, offers it knows to be poor fade out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nextbest.models.offers.catalogue import Offer, cost
from nextbest.models.offers.context import FEATURES, describe

EXPLORATION = 0.3
"""Scale of the posterior draws; 0 makes the bandit greedy."""
PRIOR = 1.0
"""Ridge penalty: how many outcomes' worth of evidence the zero prior is worth."""
TOP_REASONS = 3
MIN_PUSH = 0.01
"""A feature counts as a reason when it adds at least this much to the expected reward."""


@dataclass(frozen=True, slots=True)
class OfferChoice:
    """The offer chosen for a customer and why; ``context`` is what to hand back to ``learn``
    with the outcome."""

    offer: Offer
    expected_reward: float
    explored: bool
    reasons: tuple[str, ...]
    cost: float = 0.0
    context: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Arm:
    a_inv: list[list[float]]
    b: list[float]
    theta: list[float]
    pulls: int = 0
    outcomes: int = 0
    reward_sum: float = 0.0


class OfferBandit:
    """Disjoint linear Thompson sampling over offers; deterministic for a given ``seed``."""

    def __init__(
        self,
        features: Sequence[str] = FEATURES,
        *,
        seed: int = 0,
        exploration: float = EXPLORATION,
        prior: float = PRIOR,
    ) -> None:
        if exploration < 0 or prior <= 0:
            raise ValueError("exploration must be >= 0 and prior > 0")
        self.features = tuple(features)
        self.exploration = exploration
        self.prior = prior
        self.rng = random.Random(seed)
        self.arms: dict[str, _Arm] = {}

    def _vector(self, context: Mapping[str, float]) -> list[float]:
        return [float(context.get(name, 0.0)) for name in self.features]

    def _arm(self, offer_id: str) -> _Arm:
        arm = self.arms.get(offer_id)
        if arm is None:
            d = len(self.features)
            ridge = 1.0 / self.prior
            arm = _Arm([[ridge if i == j else 0.0 for j in range(d)] for i in range(d)],
                       [0.0] * d, [0.0] * d)
            self.arms[offer_id] = arm
        return arm

    def choose(
        self,
        context: Mapping[str, float],
        offers: Iterable[Offer],
        *,
        max_cost: float,
        basket_value: float,
    ) -> OfferChoice | None:
        """The offer to make among those costing at most ``max_cost`` on ``basket_value``
        (None when none is affordable)."""
        affordable = [(o, c) for o in offers if (c := cost(o, basket_value)) <= max_cost]
        if not affordable:
            return None
        x = self._vector(context)
        means: list[float] = []
        draws: list[float] = []
        for offer, _ in affordable:
            arm = self._arm(offer.offer_id)
            mean = _dot(arm.theta, x)
            spread = math.sqrt(max(0.0, _dot(x, _matvec(arm.a_inv, x))))
            means.append(mean)
            draws.append(mean + self.exploration * spread * self.rng.gauss(0.0, 1.0))
        best = max(range(len(affordable)), key=draws.__getitem__)
        offer, price = affordable[best]
        arm = self.arms[offer.offer_id]
        arm.pulls += 1
        explored = arm.outcomes == 0 or means[best] < max(means) - 1e-12
        others = [self.arms[o.offer_id].theta for o, _ in affordable if o is not offer]
        return OfferChoice(
            offer=offer,
            expected_reward=min(1.0, max(0.0, means[best])),
            explored=explored,
            reasons=self._reasons(arm, others, x),
            cost=round(price, 2),
            context=dict(context),
        )

    def _reasons(self, arm: _Arm, others: list[list[float]], x: list[float]) -> tuple[str, ...]:
        if arm.outcomes == 0:
            return ("No outcomes learnt for this offer yet: trying it.",)
        # What each feature adds to this offer beyond what it adds, on average, to the others.
        pushes = []
        for j, name in enumerate(self.features):
            if name == "bias":
                continue
            baseline = sum(theta[j] for theta in others) / len(others) if others else 0.0
            push = (arm.theta[j] - baseline) * x[j]
            if push >= MIN_PUSH:
                pushes.append((push, name, x[j]))
        pushes.sort(reverse=True)
        words = [describe(name, value) for _, name, value in pushes[:TOP_REASONS]]
        if not words:
            return ("Best expected response among the affordable offers.",)
        return tuple(f"{w[0].upper()}{w[1:]}." for w in words)

    def learn(self, context: Mapping[str, float], offer_id: str, reward: float) -> None:
        """One outcome: ``reward`` in [0, 1] (redeemed or converted) for the offer made in
        ``context``."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"reward must be in [0, 1], got {reward!r}")
        x = self._vector(context)
        arm = self._arm(offer_id)
        u = _matvec(arm.a_inv, x)
        denominator = 1.0 + _dot(x, u)
        d = len(x)
        for i in range(d):
            row, ui = arm.a_inv[i], u[i] / denominator
            for j in range(d):
                row[j] -= ui * u[j]
        for i in range(d):
            arm.b[i] += reward * x[i]
        arm.theta = _matvec(arm.a_inv, arm.b)
        arm.outcomes += 1
        arm.reward_sum += reward

    def expected_reward(self, context: Mapping[str, float], offer_id: str) -> float:
        """The learnt expected reward of one offer in ``context`` (0 for an unknown offer)."""
        arm = self.arms.get(offer_id)
        return 0.0 if arm is None else min(1.0, max(0.0, _dot(arm.theta, self._vector(context))))

    def retain(self, offer_ids: Iterable[str]) -> None:
        """Forget what was learnt about offers no longer in the catalogue."""
        keep = set(offer_ids)
        for offer_id in [k for k in self.arms if k not in keep]:
            del self.arms[offer_id]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per offer: times chosen, outcomes learnt and their mean reward."""
        return {
            offer_id: {
                "pulls": arm.pulls,
                "outcomes": arm.outcomes,
                "mean_reward": round(arm.reward_sum / arm.outcomes, 4) if arm.outcomes else 0.0,
            }
            for offer_id, arm in sorted(self.arms.items())
        }


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(p * q for p, q in zip(a, b, strict=True))


def _matvec(m: Sequence[Sequence[float]], x: Sequence[float]) -> list[float]:
    return [_dot(row, x) for row in m]
