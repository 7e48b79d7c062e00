"""Metrics the dashboards and alerts rely on: the Redis flush job's (waiting writes, failures,
flush time) and the model collector's (spike topics from zero, every offer, what each model
learnt), read back from a real registry."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from nextbest.engine import Engine
from nextbest.models.sentiment import TOPICS
from nextbest.profile.state import CustomerProfile
from nextbest.settings import EngineSettings
from nextbest.streams.metrics import ModelCollector, WorkerMetrics
from nextbest.streams.serving import ProfileServing, RedisKeys
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.stages.timers import timed_jobs
from tests.unit.test_write_behind import FlakyRedis


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_redis_flush_job_reports_waiting_writes_failures_and_flush_time() -> None:
    registry, redis = CollectorRegistry(), FlakyRedis()
    serving = ProfileServing(redis, RedisKeys("t"))
    pipeline = SimpleNamespace(settings=WorkerSettings(), serving=serving,
                               metrics=WorkerMetrics.create(registry))
    jobs = timed_jobs(pipeline, [])
    (flush,) = [job for _, job in jobs if job.__name__ == "redis_flush"]
    serving.put_profile(CustomerProfile("nb-1"))
    serving.add_decision("nb-1", {"decision_id": "d-1"})
    redis.down = True
    with pytest.raises(ConnectionError):
        asyncio.run(flush())
    assert value(registry, "nextbest_redis_pending_writes") == 2
    assert value(registry, "nextbest_redis_flush_failures_total") == 1
    assert value(registry, "nextbest_redis_flush_seconds_count") == 0
    redis.down = False
    asyncio.run(flush())
    asyncio.run(flush())  # nothing waits: no flush, no flush time
    assert value(registry, "nextbest_redis_pending_writes") == 0
    assert value(registry, "nextbest_redis_flush_failures_total") == 1
    assert value(registry, "nextbest_redis_flush_seconds_count") == 1
    assert value(registry, "nextbest_profiles_written_total") == 1


def test_the_model_collector_starts_every_spike_topic_and_offer_at_zero() -> None:
    registry, engine = CollectorRegistry(), Engine(EngineSettings())
    registry.register(ModelCollector(engine))
    for topic in TOPICS:  # an increase() from the first spike on needs the series before it
        assert value(registry, "nextbest_sentiment_spikes_total", topic=topic) == 0
    for offer in engine.models.offers.offers:
        assert value(registry, "nextbest_offer_picks_total", offer=offer.offer_id) == 0
    assert value(registry, "nextbest_offer_mean_reward", offer=offer.offer_id) is None
    for model in ("recommender", "sentiment", "churn"):
        assert value(registry, "nextbest_model_learnt_total", model=model) == 0
        assert value(registry, "nextbest_model_drift_alarms_total", model=model) == 0
    engine.models.spike_alerts["shipping"] = 2
    assert value(registry, "nextbest_sentiment_spikes_total", topic="shipping") == 2
