"""CDNOW: who buys again? Churn risk replayed in event time against BG/NBD and Pareto/NBD.

Data: ``CDNOW_master.txt`` shipped in the ``lifetimes`` package (23,570 customers who
first bought in Q1 1997; one line per customer, day and purchase). Same-day lines of
one customer are one order, as ``lifetimes`` counts them with ``freq='D'``.

Protocol: orders up to 1997-09-30 are replayed in time order through
``ChurnModel``. At every order the customer's pending snapshots see the purchase
(``purchase``) and a new snapshot is offered (``observe``); every ``sweep_days`` of
event time the watermark advances (snapshots whose horizon has passed are learnt)
and every customer is offered a snapshot, so quiet customers are labelled too (the
model keeps at most one pending snapshot per customer per ``horizon / per_customer``
days, 15 by default, so a quiet customer is snapshotted every other 14-day sweep).
At the cutoff every customer is scored; the target is any purchase from 1997-10-01
to 1998-06-30 and the metric is the ROC AUC of the retention score (1 - risk).
Anchors, fitted in the same run on the calibration period: BG/NBD and Pareto/NBD
(expected purchases in the window) and recency alone (days since the last order).

Why a 90-day training horizon for a 273-day target: a label needs its whole horizon
to pass before the cutoff, and the calibration period is itself 273 days long, so a
273-day horizon would resolve no label at all. With 90 days, snapshots from January
to early July resolve, customers up to six months old are seen, and the horizon is a
quarter, the span win-back decisions use. Risk over 90 days and purchase over 273
days rank customers much the same; ``horizon_days`` is a parameter to try others.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lifetimes
import numpy as np
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

from nextbest.models.churn import ChurnInputs, ChurnModel
from nextbest.models.churn.features import DAY_MS, ORDER_HISTORY_DAYS
from nextbest.replay.result import ReplayResult

CUTOFF = "1997-09-30"
WINDOW_START = "1997-10-01"
WINDOW_END = "1998-06-30"


@dataclass(slots=True)
class _Customer:
    """What the engine's profile would hold about one CDNOW customer."""

    orders: int = 0
    revenue: float = 0.0
    first_order_at: int | None = None
    last_order_at: int | None = None
    gap_count: int = 0
    gap_mean_ms: float = 0.0
    order_times: deque[int] = field(default_factory=deque)

    def add(self, time_ms: int, amount: float) -> None:
        if self.last_order_at is not None:
            gap = time_ms - self.last_order_at
            self.gap_count += 1
            self.gap_mean_ms += (gap - self.gap_mean_ms) / self.gap_count
        if self.first_order_at is None:
            self.first_order_at = time_ms
        self.last_order_at = time_ms
        self.orders += 1
        self.revenue += amount
        self.order_times.append(time_ms)

    def inputs(self, now_ms: int) -> ChurnInputs:
        horizon = now_ms - ORDER_HISTORY_DAYS * DAY_MS
        while self.order_times and self.order_times[0] <= horizon:
            self.order_times.popleft()
        return ChurnInputs(
            orders=self.orders,
            revenue=self.revenue,
            first_order_at=self.first_order_at,
            last_order_at=self.last_order_at,
            gap_count=self.gap_count,
            gap_mean_ms=self.gap_mean_ms,
            order_times=tuple(self.order_times),
        )


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC with tied scores sharing their average rank (Mann-Whitney U)."""
    score = np.asarray(score, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=float)
    sorted_scores = score[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(score)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # 1-based average rank
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def load_lines() -> pd.DataFrame:
    """CDNOW_master.txt as shipped in ``lifetimes``: customer_id, date, number_of_cds, amount."""
    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_master.txt")
    lines = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    lines["date"] = pd.to_datetime(lines["date"], format="%Y%m%d")
    return lines


def _epoch_ms(day: pd.Timestamp | pd.Series) -> Any:
    return (day - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1) * DAY_MS


def replay(
    seed: int = 7,
    *,
    horizon_days: float = 90.0,
    sweep_days: int = 14,
    per_customer: int = 6,
    learning_rate: float = 0.005,
    window: int = 2_000,
    anchors: bool = True,
) -> ReplayResult:
    """Replay CDNOW's calibration period through ``ChurnModel``; AUC at the cutoff.

    ``seed`` shuffles the order of same-day orders and of labels resolved together.
    """
    lines = load_lines()
    rng = random.Random(seed)
    window_days = (pd.Timestamp(WINDOW_END) - pd.Timestamp(WINDOW_START)).days + 1
    calibration = lines[lines["date"] <= CUTOFF]
    holdout = lines[(lines["date"] >= WINDOW_START) & (lines["date"] <= WINDOW_END)]
    orders = (
        calibration.groupby(["date", "customer_id"], sort=True)["dollar_value"].sum().reset_index()
    )
    day_ms = _epoch_ms(orders["date"]).to_numpy()
    cutoff_ms = int(_epoch_ms(pd.Timestamp(WINDOW_START)))

    model = ChurnModel(
        horizon_days=horizon_days,
        value_horizon_days=float(window_days),
        per_customer=per_customer,
        max_pending=per_customer * 30_000,
        learning_rate=learning_rate,
        window=window,
        seed=seed,
    )
    customers: dict[str, _Customer] = {}
    by_day: dict[int, list[tuple[str, float]]] = {}
    for day, cid, amount in zip(
        day_ms.tolist(), orders["customer_id"].tolist(), orders["dollar_value"].tolist(),
        strict=True,
    ):
        by_day.setdefault(int(day), []).append((cid, float(amount)))

    clock = _Clock()
    first_day = min(by_day)
    next_sweep = first_day + sweep_days * DAY_MS
    for day in sorted(by_day):
        while next_sweep <= day:
            _sweep(model, customers, next_sweep, clock)
            next_sweep += sweep_days * DAY_MS
        todays = by_day[day]
        rng.shuffle(todays)
        for cid, amount in todays:
            customer = customers.setdefault(cid, _Customer())
            clock.learn(model.advance, day)
            clock.learn(model.purchase, cid, day, amount)
            customer.add(day, amount)
            clock.score(model.observe, cid, customer.inputs(day), day)
    while next_sweep <= cutoff_ms:
        _sweep(model, customers, next_sweep, clock)
        next_sweep += sweep_days * DAY_MS
    clock.learn(model.advance, cutoff_ms)

    ids = sorted(customers)
    scores = [
        clock.score(
            model.score, customers[cid].inputs(cutoff_ms), cutoff_ms, horizon_days=window_days
        )
        for cid in ids
    ]
    risk = np.array([s.risk for s in scores])
    expected = np.array([s.expected_orders for s in scores])
    counts = holdout.groupby("customer_id")["date"].nunique()
    actual = counts.reindex(ids).fillna(0).to_numpy(dtype=float)
    bought = actual > 0

    result_anchors: dict[str, float] = {}
    extra: dict[str, object] = {}
    if anchors:
        result_anchors, extra = _anchors(calibration, ids, bought, actual, window_days)
    events = len(orders)
    calibrated = model.classifier.calibration
    extra = {
        "mae_orders": round(float(np.abs(expected - actual).mean()), 4),
        "auc_expected_orders": round(auc(expected, bought), 4),
        **extra,
        "mean_expected_orders": round(float(expected.mean()), 4),
        "mean_orders": round(float(actual.mean()), 4),
        "learn_us": round(clock.learn_ns / max(1, model.value.learnt) / 1000, 1),
        "score_us": round(clock.score_ns / max(1, clock.scores) / 1000, 1),
        "scores": clock.scores,
        "customers": len(ids),
        "bought_in_window": round(float(bought.mean()), 4),
        "horizon_days": horizon_days,
        "sweep_days": sweep_days,
        "labels_learnt": model.classifier.learnt,
        "calibration_at_horizon": calibrated.summary(),
        "lines": len(calibration),
    }
    return ReplayResult(
        dataset="cdnow",
        metric=f"AUC (any purchase {WINDOW_START}..{WINDOW_END})",
        nextbest=auc(-risk, bought),
        anchors=result_anchors,
        events=events,
        extra=extra,
    )


class _Clock:
    """Time spent learning (advance, purchase) and scoring (observe, score)."""

    def __init__(self) -> None:
        self.learn_ns = 0
        self.score_ns = 0
        self.scores = 0

    def learn(self, call: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter_ns()
        out = call(*args)
        self.learn_ns += time.perf_counter_ns() - started
        return out

    def score(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        out = call(*args, **kwargs)
        self.score_ns += time.perf_counter_ns() - started
        self.scores += 1
        return out


def _sweep(model: ChurnModel, customers: dict[str, _Customer], now: int, clock: _Clock) -> None:
    """Advance the watermark and offer every customer a snapshot (population-wide timer)."""
    clock.learn(model.advance, now)
    for cid, customer in customers.items():
        if model.wants_snapshot(cid, now):
            clock.score(model.observe, cid, customer.inputs(now), now)


def _anchors(
    calibration: pd.DataFrame,
    ids: list[str],
    bought: np.ndarray,
    actual: np.ndarray,
    window_days: int,
) -> tuple[dict[str, float], dict[str, object]]:
    """BG/NBD, Pareto/NBD and recency fitted/measured on the calibration period."""
    summary = summary_data_from_transaction_data(
        calibration, "customer_id", "date", observation_period_end=CUTOFF, freq="D"
    ).reindex(ids)
    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    out: dict[str, float] = {}
    extra: dict[str, object] = {}
    for name, fitter in (
        ("bg_nbd", lifetimes.BetaGeoFitter(penalizer_coef=0.0)),
        ("pareto_nbd", lifetimes.ParetoNBDFitter(penalizer_coef=0.0)),
    ):
        started = time.perf_counter()
        fitter.fit(f, r, t)
        expected = np.asarray(
            fitter.conditional_expected_number_of_purchases_up_to_time(window_days, f, r, t),
            dtype=float,
        )
        out[name] = auc(expected, bought)
        extra[f"mae_orders_{name}"] = round(float(np.abs(expected - actual).mean()), 4)
        extra[f"fit_s_{name}"] = round(time.perf_counter() - started, 1)
    out["recency"] = auc(-(t - r).to_numpy(dtype=float), bought)
    extra["mae_orders_zero"] = round(float(actual.mean()), 4)
    return out, extra
