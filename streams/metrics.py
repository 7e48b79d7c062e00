"""The worker's Prometheus metrics, one bundle created against an injected registry.

Labels carry only bounded, non-personal values: event family, reason codes, decision types,
topic and partition numbers - never a customer id, email or text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nextbest.models.sentiment import TOPICS

if TYPE_CHECKING:
    from nextbest.engine import Engine
    from nextbest.models.suite import ModelSuite

# Event -> decision latency in seconds. The target is p99 well under 200 ms, so buckets are
# dense from 1 ms to 250 ms and sparse beyond, to still show how bad a bad tail is.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0,
)
# Per-event engine cost in seconds: tens of microseconds normally, a few ms is already bad.
STEP_BUCKETS = (0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)
# One write-behind flush to Redis: a pipeline round trip, milliseconds normally.
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    events_in: Counter
    deadletters: Counter
    decisions: Counter
    decision_latency: Histogram
    step_seconds: Histogram
    engine_cpu: Counter
    consumer_lag: Gauge
    decisions_already_sent: Counter
    identity_merges: Counter
    identity_wait: Histogram
    identity_splits: Counter
    shared_identifiers: Counter
    profiles_written: Counter
    verdicts: Counter
    outcomes: Counter
    outcome_revenue: Counter
    support_conversations: Counter
    support_contacts: Counter
    erasures: Counter
    loop_lag: Histogram
    redis_pending: Gauge
    redis_flush_seconds: Histogram
    redis_flush_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "nextbest") -> WorkerMetrics:
        return cls(
            events_in=Counter(
                f"{prefix}_events_in", "Valid events accepted, by family.", ["family"],
                registry=registry,
            ),
            deadletters=Counter(
                f"{prefix}_deadletters", "Messages sent to the dead-letter topic.",
                ["family", "reason"], registry=registry,
            ),
            decisions=Counter(
                f"{prefix}_decisions", "Decisions emitted, by type.", ["decision_type"],
                registry=registry,
            ),
            decision_latency=Histogram(
                f"{prefix}_event_to_decision_seconds",
                "From the causing event's Kafka timestamp to the decision's send, for decisions"
                " an event causes directly.",
                ["decision_type"], buckets=LATENCY_BUCKETS, registry=registry,
            ),
            loop_lag=Histogram(
                f"{prefix}_event_loop_lag_seconds",
                "How late the worker's event loop ran a 10 ms timer: work that held the loop"
                " that long delayed every event and decision waiting behind it.",
                buckets=LATENCY_BUCKETS, registry=registry,
            ),
            step_seconds=Histogram(
                f"{prefix}_engine_step_seconds", "Time in the engine core per event.",
                buckets=STEP_BUCKETS, registry=registry,
            ),
            engine_cpu=Counter(
                f"{prefix}_engine_cpu_seconds",
                "CPU time of the worker's thread in the engine (steps, wakes, merges): the rest"
                " of the worker's CPU is the plumbing around it.",
                registry=registry,
            ),
            consumer_lag=Gauge(
                f"{prefix}_consumer_lag", "Messages not yet consumed, per topic partition.",
                ["topic", "partition"], registry=registry,
            ),
            decisions_already_sent=Counter(
                f"{prefix}_decisions_already_sent",
                "Decisions not sent again after a crash because the decision topic has them.",
                registry=registry,
            ),
            identity_merges=Counter(
                f"{prefix}_identity_merges", "Customer profiles merged by identity linking.",
                registry=registry,
            ),
            identity_wait=Histogram(
                f"{prefix}_identity_wait_seconds",
                "How long events the router held waited to be routed: for the identity writer's"
                " answer (a merge, a sighting it counts, an erasure or split), or behind such an"
                " event naming the same customer.", buckets=LATENCY_BUCKETS, registry=registry,
            ),
            identity_splits=Counter(
                f"{prefix}_identity_splits",
                "Merges undone: by a split request or an identifier turning out shared.",
                registry=registry,
            ),
            shared_identifiers=Counter(
                f"{prefix}_shared_identifiers",
                "Identifiers marked shared: seen with more customers than the limit, or named "
                "by a split request.", registry=registry,
            ),
            profiles_written=Counter(
                f"{prefix}_profiles_written", "Profile snapshots written to Redis.",
                registry=registry,
            ),
            verdicts=Counter(
                f"{prefix}_decision_verdicts",
                "Candidate decisions by verdict: sent, control (held out), suppressed or "
                "deferred, with the guardrail rule that stopped or held it.",
                ["decision_type", "status", "rule"], registry=registry,
            ),
            outcomes=Counter(
                f"{prefix}_decision_outcomes",
                "Closed attribution windows by arm and whether an order followed.",
                ["decision_type", "arm", "converted"], registry=registry,
            ),
            outcome_revenue=Counter(
                f"{prefix}_decision_outcome_revenue",
                "Revenue of the orders in closed attribution windows, by arm: revenue per "
                "exposure = this / nextbest_decision_outcomes_total.",
                ["decision_type", "arm"], registry=registry,
            ),
            support_conversations=Counter(
                f"{prefix}_support_conversations_resolved",
                "Resolved support conversations: contained (no person needed) or escalated. "
                "Containment rate = contained / all.", ["outcome"], registry=registry,
            ),
            support_contacts=Counter(
                f"{prefix}_support_contacts",
                "New support contacts; repeat=yes when another came within the repeat window "
                "(7 days by default) before it.", ["repeat"], registry=registry,
            ),
            erasures=Counter(
                f"{prefix}_erasures", "Erasure requests carried out.", registry=registry,
            ),
            redis_pending=Gauge(
                f"{prefix}_redis_pending_writes",
                "Profiles, decisions and identifiers waiting for the next write-behind flush "
                "to Redis (set at each flush, before it runs: it grows while Redis is away).",
                registry=registry,
            ),
            redis_flush_seconds=Histogram(
                f"{prefix}_redis_flush_seconds", "Duration of a successful write-behind flush.",
                buckets=FLUSH_BUCKETS, registry=registry,
            ),
            redis_flush_failures=Counter(
                f"{prefix}_redis_flush_failures",
                "Write-behind flushes that failed (Redis away); what they held is kept and "
                "retried.", registry=registry,
            ),
        )


class ModelCollector(Collector):
    """The engine's models as seen at scrape time: prequential quality, drift alarms, per-event
    cost, what each model learnt, the offer bandit and sentiment spikes. Read from the live
    suite, so a restored checkpoint shows at once.

    Summing over workers: ``model_events``, ``sentiment_spikes`` and ``offer_picks`` count what
    each worker did itself (sum them); every worker learns every worker's lessons, so
    ``model_shared_events`` and ``model_learnt`` are the cluster's on each worker, and quality,
    drift alarms and mean rewards belong to each worker's copy of the models (max or avg them)."""

    def __init__(self, engine: Engine, prefix: str = "nextbest") -> None:
        self.engine = engine
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        models = self.engine.models
        yield from self._learning(models)
        yield from self._quality(models)
        yield from self._offers(models)
        spikes = CounterMetricFamily(
            f"{self.prefix}_sentiment_spikes", "Negative-sentiment spikes detected, by topic "
            "(counted by the worker whose event it was).", labels=["topic"])
        for topic in (*TOPICS, *sorted(set(models.spike_alerts) - set(TOPICS))):
            spikes.add_metric([topic], models.spike_alerts.get(topic, 0))
        yield spikes

    def _learning(self, models: ModelSuite) -> Iterator[Metric]:
        p = self.prefix
        learned = CounterMetricFamily(
            f"{p}_model_events", "Events stepped here that the models learnt from (summed over "
            "workers: the cluster's events).")
        learned.add_metric([], models.events)
        shared = CounterMetricFamily(
            f"{p}_model_shared_events", "Orders, carts and texts other workers stepped that the "
            "models learnt from, through their lessons (each worker learns them all: do not "
            "sum).")
        shared.add_metric([], models.shared_events)
        learnt = CounterMetricFamily(
            f"{p}_model_learnt", "Examples each model has learnt: purchased lines and carts "
            "(recommender), rated reviews (sentiment), resolved churn labels (churn). Every "
            "worker learns every worker's: do not sum.", labels=["model"])
        learnt.add_metric(["recommender"], models.recommender.learned)
        learnt.add_metric(["sentiment"], models.sentiment.n_learned)
        learnt.add_metric(["churn"], models.churn.classifier.learnt)
        yield from (learned, shared, learnt)

    def _quality(self, models: ModelSuite) -> Iterator[Metric]:
        p = self.prefix
        quality = GaugeMetricFamily(
            f"{p}_model_prequential_quality",
            "Rolling predict-then-learn quality: recommender hit rate at 10, sentiment and "
            "churn accuracy.", labels=["model"])
        drift = CounterMetricFamily(
            f"{p}_model_drift_alarms", "ADWIN drift alarms on the prequential error.",
            labels=["model"])
        cost = GaugeMetricFamily(
            f"{p}_model_cost_microseconds", "Mean learn+score cost per event.", labels=["model"])
        for name, tracker in models.quality.items():
            if tracker.quality is not None:
                quality.add_metric([name], tracker.quality)
            drift.add_metric([name], tracker.drift_alarms)
        for name, meter in models.cost.items():
            cost.add_metric([name], meter.mean_us)
        yield from (quality, drift, cost)

    def _offers(self, models: ModelSuite) -> Iterator[Metric]:
        p = self.prefix
        picks = CounterMetricFamily(
            f"{p}_offer_picks", "Times the next-best-offer bandit chose each offer of the "
            "catalogue here.", labels=["offer"])
        reward = GaugeMetricFamily(
            f"{p}_offer_mean_reward", "Mean reward of each offer's outcomes learnt so far "
            "(offers with an outcome only).", labels=["offer"])
        arms = models.offers.stats()
        for offer in models.offers.offers:
            arm = arms.get(offer.offer_id)
            picks.add_metric([offer.offer_id], arm["pulls"] if arm else 0)
            if arm and arm["outcomes"]:
                reward.add_metric([offer.offer_id], arm["mean_reward"])
        yield from (picks, reward)
