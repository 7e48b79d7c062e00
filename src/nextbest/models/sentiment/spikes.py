"""Spikes in the negative rate per topic, on event time.

Per topic, the last ``window_ms`` of observations sit in ``bucket_ms`` buckets; a bucket
that falls out of the window (the window trails the newest event time seen) is folded into
a baseline of exponentially decayed counts (half-life ``baseline_half_life_ms``), so a burst
never inflates its own baseline. The baseline rate is shrunk towards ``prior_rate`` with
``prior_count`` pseudo-observations. An alert fires when the window holds at least
``min_count`` observations, its negative rate is at least ``min_ratio`` times the baseline
rate, and the one-sided z-score (normal approximation with continuity correction) is at
least ``z_threshold``; a topic alerts again only after ``cooldown_ms``. Observations older
than the window go straight to the baseline. Memory per topic is bounded by the number of
buckets in a window, and at most ``max_topics`` topics are tracked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class SentimentSpike:
    """An alert: a topic's recent negative rate well above its baseline.

    ``count`` is the observations in the window; ``at_ms`` the event-time watermark when it
    fired.
    """

    topic: str
    window_rate: float
    baseline_rate: float
    count: int
    at_ms: int
    z_score: float


@dataclass(slots=True)
class _Topic:
    buckets: dict[int, list[int]] = field(default_factory=dict)  # bucket -> [n, negatives]
    base_n: float = 0.0
    base_neg: float = 0.0
    base_at_ms: int | None = None
    last_alert_ms: int | None = None


class TopicSpikes:
    """Per-topic negative-rate spike detector over event-time windows."""

    def __init__(
        self,
        window_ms: int = 6 * HOUR_MS,
        bucket_ms: int = 15 * 60_000,
        baseline_half_life_ms: int = 7 * DAY_MS,
        min_count: int = 20,
        min_ratio: float = 1.5,
        z_threshold: float = 3.5,
        prior_rate: float = 0.2,
        prior_count: float = 20.0,
        cooldown_ms: int | None = None,
        max_topics: int = 64,
    ) -> None:
        if not 0 < bucket_ms <= window_ms:
            raise ValueError("need 0 < bucket_ms <= window_ms")
        if not 0.0 < prior_rate < 1.0:
            raise ValueError("prior_rate must be in (0, 1)")
        if prior_count <= 0:
            raise ValueError("prior_count must be positive")
        self.window_ms = window_ms
        self.bucket_ms = bucket_ms
        self.baseline_half_life_ms = baseline_half_life_ms
        self.min_count = min_count
        self.min_ratio = min_ratio
        self.z_threshold = z_threshold
        self.prior_rate = prior_rate
        self.prior_count = prior_count
        self.cooldown_ms = window_ms if cooldown_ms is None else cooldown_ms
        self.max_topics = max_topics
        self.watermark_ms: int | None = None
        self._topics: dict[str, _Topic] = {}

    def _first_bucket(self) -> int:
        assert self.watermark_ms is not None
        return (self.watermark_ms - self.window_ms) // self.bucket_ms + 1

    def _fold(self, st: _Topic, n: float, neg: float, at_ms: int) -> None:
        if st.base_at_ms is None:
            st.base_at_ms = at_ms
        elif at_ms > st.base_at_ms:
            decay = 0.5 ** ((at_ms - st.base_at_ms) / self.baseline_half_life_ms)
            st.base_n *= decay
            st.base_neg *= decay
            st.base_at_ms = at_ms
        st.base_n += n
        st.base_neg += neg

    def _expire(self, st: _Topic) -> None:
        first = self._first_bucket()
        for b in sorted(k for k in st.buckets if k < first):
            n, neg = st.buckets.pop(b)
            self._fold(st, n, neg, (b + 1) * self.bucket_ms)

    def baseline_rate(self, topic: str) -> float:
        """The topic's decayed baseline negative rate, shrunk towards the prior."""
        st = self._topics.get(topic)
        n, neg = (st.base_n, st.base_neg) if st else (0.0, 0.0)
        return (neg + self.prior_rate * self.prior_count) / (n + self.prior_count)

    def window(self, topic: str) -> tuple[int, int]:
        """``(count, negatives)`` in the topic's current window."""
        st = self._topics.get(topic)
        if st is None or self.watermark_ms is None:
            return 0, 0
        first = self._first_bucket()
        live = [v for b, v in st.buckets.items() if b >= first]
        return sum(v[0] for v in live), sum(v[1] for v in live)

    @property
    def topics(self) -> tuple[str, ...]:
        """Topics being tracked."""
        return tuple(self._topics)

    def observe(
        self, topics: Iterable[str], negative: bool, time_ms: int
    ) -> list[SentimentSpike]:
        """Count one text under each of its topics; return the alerts it triggers."""
        if self.watermark_ms is None or time_ms > self.watermark_ms:
            self.watermark_ms = time_ms
        alerts: list[SentimentSpike] = []
        bucket = time_ms // self.bucket_ms
        for topic in dict.fromkeys(topics):
            st = self._topics.get(topic)
            if st is None:
                if len(self._topics) >= self.max_topics:
                    continue
                st = self._topics[topic] = _Topic()
            self._expire(st)
            if bucket < self._first_bucket():
                self._fold(st, 1, int(negative), time_ms)
            else:
                counts = st.buckets.setdefault(bucket, [0, 0])
                counts[0] += 1
                counts[1] += int(negative)
            if negative:
                alert = self._check(topic, st)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _check(self, topic: str, st: _Topic) -> SentimentSpike | None:
        assert self.watermark_ms is not None
        now = self.watermark_ms
        if st.last_alert_ms is not None and now - st.last_alert_ms < self.cooldown_ms:
            return None
        n, neg = self.window(topic)
        if n < self.min_count:
            return None
        base = self.baseline_rate(topic)
        rate = neg / n
        z = (neg - 0.5 - n * base) / math.sqrt(n * base * (1.0 - base))
        if rate < self.min_ratio * base or z < self.z_threshold:
            return None
        st.last_alert_ms = now
        return SentimentSpike(topic, rate, base, n, now, z)
