"""Online implicit-feedback matrix factorisation on River's ``reco`` models.

Each interaction is learned as a positive (``y = 1``) and ``negatives`` items
drawn uniformly from the known items as negatives (``y = 0``), one SGD step
each. Ranking a customer against many items reads the item factors through a
matrix mirror that is refreshed only for the items learned since the last call.

For ``FunkMF`` with River's defaults here (squared loss, constant-rate SGD) the step is
taken inline on the model's own latent vectors: the same dot product (numpy's) and the same
element-wise products and sums in the same order as ``FunkMF.learn_one``, so the factors
are bit-for-bit River's, without its per-step dict and optimizer dispatch.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
from river import optim, reco

Kind = Literal["funk", "biased"]


class ImplicitMF:
    """River ``FunkMF`` (or ``BiasedMF``) trained on implicit feedback with sampled negatives."""

    def __init__(
        self,
        *,
        kind: Kind = "funk",
        n_factors: int = 10,
        negatives: int = 4,
        learning_rate: float = 0.05,
        l2: float = 0.001,
        seed: int = 7,
    ) -> None:
        self.kind = kind
        self.negatives = negatives
        self.model: reco.FunkMF | reco.BiasedMF
        if kind == "funk":
            self.model = reco.FunkMF(
                n_factors=n_factors, optimizer=optim.SGD(learning_rate), l2=l2, seed=seed
            )
        elif kind == "biased":
            self.model = reco.BiasedMF(
                n_factors=n_factors, bias_optimizer=optim.SGD(learning_rate),
                latent_optimizer=optim.SGD(learning_rate), l2_bias=l2, l2_latent=l2, seed=seed,
            )
        else:
            raise ValueError(f"unknown factorisation kind {kind!r}")
        self._rng = random.Random(seed)
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._factors = np.zeros((0, n_factors))
        self._bias = np.zeros(0)
        self._dirty: set[str] = set()

    def learn(self, user_id: str, item_id: str, *, exclude: Collection[str] = ()) -> None:
        """One positive step for ``(user, item)`` and steps on sampled negatives.

        ``exclude`` (e.g. the customer's own items) is never drawn as a negative.
        """
        if item_id not in self._index:
            self._index[item_id] = len(self._items)
            self._items.append(item_id)
        step = self._step if self._fused() else self.model.learn_one
        step(user_id, item_id, 1.0)
        self._dirty.add(item_id)
        if len(self._items) < 2:
            return
        for _ in range(self.negatives):
            for _attempt in range(5):
                negative = self._items[self._rng.randrange(len(self._items))]
                if negative != item_id and negative not in exclude:
                    step(user_id, negative, 0.0)
                    self._dirty.add(negative)
                    break

    def _fused(self) -> bool:
        """Whether :meth:`_step` computes exactly what the model's ``learn_one`` would."""
        model = self.model
        if not isinstance(model, reco.FunkMF) or type(model.loss) is not optim.losses.Squared:
            return False
        return all(type(o) is optim.SGD and type(o.lr) is optim.schedulers.Constant
                   for o in (model.u_optimizer, model.i_optimizer))

    def _step(self, user_id: str, item_id: str, y: float) -> None:
        """``FunkMF.learn_one(user, item, y)``, inlined (same operations, same order)."""
        model = self.model
        assert isinstance(model, reco.FunkMF)
        user = model.u_latents[user_id]  # the user first: new latents draw from one RNG
        item = model.i_latents[item_id]
        g = 2 * (np.dot(user, item).item() - y)
        g = max(min(g, model.clip_gradient), -model.clip_gradient)
        l2 = model.l2
        u_opt, i_opt = model.u_optimizer, model.i_optimizer
        # River's ``user -= lr * (g * item + l2 * user)`` (and the item's, from the old user)
        # element by element on Python floats: the same products and sums, without ten numpy
        # calls on ten numbers
        u, i = user.tolist(), item.tolist()
        rate = u_opt.learning_rate
        user[:] = [uk - rate * (g * ik + l2 * uk) for uk, ik in zip(u, i, strict=True)]
        u_opt.n_iterations += 1
        rate = i_opt.learning_rate
        item[:] = [ik - rate * (g * uk + l2 * ik) for uk, ik in zip(u, i, strict=True)]
        i_opt.n_iterations += 1

    def knows(self, user_id: str) -> bool:
        """Whether ``user_id`` has learned factors."""
        return user_id in self.model.u_latents

    def scores(self, user_id: str, items: Sequence[str] | None = None) -> np.ndarray | None:
        """Affinity of ``user_id`` to ``items`` (all known items if None), in that order.

        None when the user is unknown; unknown items score 0.
        """
        user = self.model.u_latents.get(user_id)
        if user is None:
            return None
        self._refresh()
        if items is None:
            out = self._factors[: len(self._items)] @ user
            if isinstance(self.model, reco.BiasedMF):
                out = out + self._bias[: len(self._items)]
            return out
        rows = np.array([self._index.get(item, -1) for item in items], dtype=np.int64)
        return self._row_scores(user, rows)

    def row_scores(self, user_id: str, rows: np.ndarray) -> np.ndarray | None:
        """:meth:`scores` of items given by their positions in :attr:`items` (int64; -1 for an
        unknown item, which scores 0): the same floats, without looking the ids up."""
        user = self.model.u_latents.get(user_id)
        if user is None:
            return None
        self._refresh()
        return self._row_scores(user, rows)

    def _row_scores(self, user: np.ndarray, rows: np.ndarray) -> np.ndarray:
        known = rows >= 0
        if known.all() and not isinstance(self.model, reco.BiasedMF):
            result: np.ndarray = self._factors[rows] @ user  # the same rows, the same product
            return result
        out = np.zeros(len(rows))
        if known.any():
            out[known] = self._factors[rows[known]] @ user
            if isinstance(self.model, reco.BiasedMF):
                out[known] += self._bias[rows[known]]
        return out

    @property
    def items(self) -> list[str]:
        """Known items, in the order ``scores(user)`` answers."""
        return self._items

    def forget(self, user_id: str) -> None:
        """Drop the user's factors (and bias); the item factors stay."""
        self.model.u_latents.pop(user_id, None)
        if isinstance(self.model, reco.BiasedMF):
            self.model.u_biases.pop(user_id, None)

    def _refresh(self) -> None:
        if not self._dirty:
            return
        size = len(self._items)
        if size > len(self._factors):
            grown = max(size, 2 * len(self._factors), 64)
            factors = np.zeros((grown, self._factors.shape[1]))
            factors[: len(self._factors)] = self._factors
            self._factors = factors
            bias = np.zeros(grown)
            bias[: len(self._bias)] = self._bias
            self._bias = bias
        latents = self.model.i_latents
        biases = self.model.i_biases if isinstance(self.model, reco.BiasedMF) else None
        dirty = list(self._dirty)
        rows = [self._index[item] for item in dirty]
        self._factors[rows] = [latents[item] for item in dirty]
        if biases is not None:
            self._bias[rows] = [biases[item] for item in dirty]
        self._dirty.clear()
