"""Items at fixed positions, for numpy arrays indexed by item.

The models keep their state in dicts keyed by item id (pickled as they are); the arrays
that mirror them for vectorised scoring are derived state, rebuilt after unpickling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

_Scalar = TypeVar("_Scalar", bound=np.generic)


class Positions:
    """Each item's position, in the order the items were first added."""

    __slots__ = ("items", "of")

    def __init__(self, items: Iterable[str] = ()) -> None:
        self.of: dict[str, int] = {}
        self.items: list[str] = []
        for item in items:
            self.add(item)

    def add(self, item: str) -> int:
        """The item's position (the next free one if it had none)."""
        position = self.of.get(item)
        if position is None:
            position = self.of[item] = len(self.items)
            self.items.append(item)
        return position

    def __len__(self) -> int:
        return len(self.items)


def room(array: npt.NDArray[_Scalar], size: int, fill: float = 0) -> npt.NDArray[_Scalar]:
    """``array`` if it holds ``size`` entries, else a copy grown (at least doubled) to hold
    them, the new entries ``fill``."""
    if size <= len(array):
        return array
    grown = np.full(max(size, 2 * len(array), 64), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown
