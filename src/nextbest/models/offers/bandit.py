"""A contextual bandit that picks an offer and learns from outcomes: linear Thompson sampling
over one model that every offer shares.

The expected reward of an offer in a context ``x`` (the customer's features) is one linear model
over three blocks of columns:

* ``x`` itself: how likely this customer is to take up any offer, learnt from every outcome;
* ``x`` for the offer's kind (discount, free shipping, upgrade, loyalty reward): what that kind
  adds in this context, learnt from the outcomes of every offer of the kind;
* a constant for the offer: what this offer adds to the others of its kind.

Outcomes are rare (a few in a hundred messages), so a separate model per offer over every
feature would need thousands of them before it told the offers apart; sharing what does not
depend on the offer, and what offers of one kind have in common, lets a few hundred do. Each
block has a ridge prior centred on zero (``PRIORS``: how many outcomes' worth of evidence the
zero is worth), tighter for the kind and offer columns, which only tell offers apart.

The posterior is kept as its covariance (the inverse design matrix) and mean, updated by
recursive least squares (Sherman-Morrison): one outcome costs O(D²) for D columns. A column
appears the first time its feature (a new country) or offer is seen, with the prior's variance
and a zero mean, which is exactly what it would hold had it been there from the start. To choose,
the expected reward of every affordable offer is drawn from its posterior (mean ± ``exploration``
· standard error) and the highest draw wins: offers the bandit knows little about get tried,
offers it knows to be poor for this kind of customer fade out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nextbest.models.offers.catalogue import Offer, cost
from nextbest.models.offers.context import describe

EXPLORATION = 0.1
"""Scale of the posterior draws; 0 makes the bandit greedy."""
PRIORS: Mapping[str, float] = {"shared": 1.0, "kind": 10.0, "offer": 30.0}
"""Ridge penalty of each block of columns: the customer's features, the features per offer kind,
one constant per offer."""
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
class _Tally:
    pulls: int = 0
    outcomes: int = 0
    reward_sum: float = 0.0


class OfferBandit:
    """Linear Thompson sampling over offers with a shared model; deterministic for a given
    ``seed``.

    >>> from nextbest.models.offers.catalogue import DEFAULT_OFFERS
    >>> bandit = OfferBandit(seed=1, exploration=0.0)
    >>> upgrade = next(o for o in DEFAULT_OFFERS if o.kind == "upgrade")
    >>> for _ in range(30):
    ...     bandit.learn({"bias": 1.0, "mobile": 1.0}, upgrade, 1.0)
    >>> bandit.choose({"bias": 1.0, "mobile": 1.0}, DEFAULT_OFFERS, max_cost=50.0,
    ...               basket_value=40.0).offer.offer_id
    'upgrade'
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        exploration: float = EXPLORATION,
        priors: Mapping[str, float] = PRIORS,
    ) -> None:
        if exploration < 0 or set(priors) != set(PRIORS) or min(priors.values()) <= 0:
            raise ValueError(f"exploration must be >= 0 and priors > 0 for {sorted(PRIORS)}")
        self.exploration = exploration
        self.priors = dict(priors)
        self.rng = random.Random(seed)
        self.columns: dict[str, int] = {}
        """Column name (``x|mobile``, ``kind|discount|mobile``, ``offer|upgrade``) -> index."""
        self.covariance = np.zeros((0, 0))
        self.mean = np.zeros(0)
        self.tallies: dict[str, _Tally] = {}

    # --- the design -----------------------------------------------------------------------

    def _column(self, name: str, block: str) -> int:
        j = self.columns.get(name)
        if j is None:
            j = len(self.columns)
            self.columns[name] = j
            grown = np.zeros((j + 1, j + 1))
            grown[:j, :j] = self.covariance
            grown[j, j] = 1.0 / self.priors[block]
            self.covariance = grown
            self.mean = np.append(self.mean, 0.0)
        return j

    def _design(self, context: Mapping[str, float], offer: Offer) -> tuple[np.ndarray, np.ndarray]:
        """The columns an offer in ``context`` sets and their values."""
        names: list[int] = []
        values: list[float] = []
        for feature, value in context.items():
            if value:
                names += [self._column(f"x|{feature}", "shared"),
                          self._column(f"kind|{offer.kind}|{feature}", "kind")]
                values += [float(value), float(value)]
        names.append(self._column(f"offer|{offer.offer_id}", "offer"))
        values.append(1.0)
        return np.array(names, dtype=np.intp), np.array(values)

    def _posterior(self, context: Mapping[str, float], offer: Offer) -> tuple[float, float]:
        """Mean and standard error of an offer's expected reward in ``context``."""
        cols, x = self._design(context, offer)
        mean = float(self.mean[cols] @ x)
        variance = float(x @ self.covariance[np.ix_(cols, cols)] @ x)
        return mean, math.sqrt(max(0.0, variance))

    # --- choosing and learning ------------------------------------------------------------

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
        means: list[float] = []
        draws: list[float] = []
        for offer, _ in affordable:
            mean, spread = self._posterior(context, offer)
            means.append(mean)
            draws.append(mean + self.exploration * spread * self.rng.gauss(0.0, 1.0))
        best = max(range(len(affordable)), key=draws.__getitem__)
        offer, price = affordable[best]
        tally = self.tallies.setdefault(offer.offer_id, _Tally())
        tally.pulls += 1
        explored = tally.outcomes == 0 or means[best] < max(means) - 1e-12
        others = [o.kind for o, _ in affordable if o is not offer]
        return OfferChoice(
            offer=offer,
            expected_reward=min(1.0, max(0.0, means[best])),
            explored=explored,
            reasons=self._reasons(offer, tally, others, context),
            cost=round(price, 2),
            context=dict(context),
        )

    def _reasons(self, offer: Offer, tally: _Tally, others: list[str],
                 context: Mapping[str, float]) -> tuple[str, ...]:
        if tally.outcomes == 0:
            return ("No outcomes learnt for this offer yet: trying it.",)

        def weight(kind: str, feature: str) -> float:
            j = self.columns.get(f"kind|{kind}|{feature}")
            return 0.0 if j is None else float(self.mean[j])

        # What each feature adds to this offer's kind beyond what it adds, on average, to the
        # other offers' kinds (what it adds to every offer alike explains no choice).
        pushes = []
        for name, value in context.items():
            if name == "bias" or not value:
                continue
            baseline = sum(weight(k, name) for k in others) / len(others) if others else 0.0
            push = (weight(offer.kind, name) - baseline) * value
            if push >= MIN_PUSH:
                pushes.append((push, name, value))
        pushes.sort(reverse=True)
        words = [describe(name, value) for _, name, value in pushes[:TOP_REASONS]]
        if not words:
            return ("Best expected response among the affordable offers.",)
        return tuple(f"{w[0].upper()}{w[1:]}." for w in words)

    def learn(self, context: Mapping[str, float], offer: Offer, reward: float) -> None:
        """One outcome: ``reward`` in [0, 1] (taken up or not) for ``offer`` made in
        ``context``."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"reward must be in [0, 1], got {reward!r}")
        cols, x = self._design(context, offer)
        u = self.covariance[:, cols] @ x
        denominator = 1.0 + float(x @ u[cols])
        error = reward - float(self.mean[cols] @ x)
        self.covariance -= np.outer(u, u) / denominator
        self.mean += u * (error / denominator)
        tally = self.tallies.setdefault(offer.offer_id, _Tally())
        tally.outcomes += 1
        tally.reward_sum += reward

    def expected_reward(self, context: Mapping[str, float], offer: Offer) -> float:
        """The learnt expected reward of ``offer`` in ``context``, in [0, 1]."""
        return min(1.0, max(0.0, self._posterior(context, offer)[0]))

    def retain(self, offer_ids: Iterable[str]) -> None:
        """Forget what was learnt about offers no longer in the catalogue (their own columns
        and counts); what their kind taught stays."""
        keep = set(offer_ids)
        gone = {name for name in self.columns
                if name.startswith("offer|") and name[len("offer|"):] not in keep}
        if gone:
            kept = [(name, j) for name, j in self.columns.items() if name not in gone]
            index = np.array([j for _, j in kept], dtype=np.intp)
            self.covariance = self.covariance[np.ix_(index, index)]
            self.mean = self.mean[index]
            self.columns = {name: i for i, (name, _) in enumerate(kept)}
        for offer_id in [k for k in self.tallies if k not in keep]:
            del self.tallies[offer_id]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per offer: times chosen, outcomes learnt and their mean reward."""
        return {
            offer_id: {
                "pulls": t.pulls,
                "outcomes": t.outcomes,
                "mean_reward": round(t.reward_sum / t.outcomes, 4) if t.outcomes else 0.0,
            }
            for offer_id, t in sorted(self.tallies.items())
        }
