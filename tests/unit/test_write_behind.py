"""The Redis write-behind while Redis is away: bounded, nothing of an erased customer written
again, and retries that back off instead of flooding the log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from nextbest.streams.serving import RECENT_DECISIONS, ProfileServing, RedisKeys
from nextbest.streams.stages import timers


class Pipeline:
    def __init__(self, redis: FlakyRedis) -> None:
        self.redis = redis
        self.commands: list[tuple[Any, ...]] = []

    def __getattr__(self, command: str) -> Any:
        return lambda *args, **options: self.commands.append((command, *args))

    async def execute(self) -> list[Any]:
        if self.redis.down:
            raise ConnectionError("Redis is away")
        self.redis.executed.extend(self.commands)
        results: list[Any] = []
        for command, *args in self.commands:  # strings only, and SET always as NX
            if command == "set":
                created = args[0] not in self.redis.strings
                self.redis.strings.setdefault(args[0], args[1])
                results.append(created or None)
            else:
                results.append(self.redis.strings.get(args[0]) if command == "get" else None)
        return results


class FlakyRedis:
    def __init__(self) -> None:
        self.down = False
        self.executed: list[tuple[Any, ...]] = []
        self.strings: dict[str, Any] = {}

    def pipeline(self, transaction: bool = False) -> Pipeline:
        return Pipeline(self)


def prepended(redis: FlakyRedis) -> list[tuple[str, int, list[bytes]]]:
    """The lists the write-behind's script pushed to: key, length kept, entries oldest first."""
    pushed = []
    for command, *args in redis.executed:
        if command != "eval":
            continue
        _, count, *rest = args
        keys, argv = rest[:count], rest[count:]
        for key in keys:
            keep, n = argv[0], argv[1]
            pushed.append((key, keep, list(argv[2:2 + n])))
            argv = argv[2 + n:]
    return pushed


def decision(n: int) -> dict[str, Any]:
    return {"decision_id": f"d-{n}"}


def test_decisions_waiting_for_redis_stay_bounded_and_the_newest_arrive() -> None:
    redis = FlakyRedis()
    serving = ProfileServing(redis, RedisKeys("t"))  # type: ignore[arg-type]
    redis.down = True
    for n in range(50):
        serving.add_decision("c1", decision(n))
        with pytest.raises(ConnectionError):
            asyncio.run(serving.flush())
    assert serving.pending == RECENT_DECISIONS
    redis.down = False
    asyncio.run(serving.flush())
    ((key, keep, blobs),) = prepended(redis)
    assert (key, keep) == ("t:decisions:c1", RECENT_DECISIONS)
    written = [orjson.loads(blob)["decision_id"] for blob in blobs]
    assert written == [f"d-{n}" for n in range(50 - RECENT_DECISIONS, 50)]  # oldest pushed first
    assert serving.pending == 0


def test_an_erased_customers_waiting_decisions_are_not_written_after_the_erasure() -> None:
    redis = FlakyRedis()
    serving = ProfileServing(redis, RedisKeys("t"))  # type: ignore[arg-type]
    serving.add_decision("c1", decision(1))
    serving.add_decision("c2", decision(2))
    serving.drop_profile("c1")
    asyncio.run(serving.flush())
    assert ("delete", "t:profile:c1", "t:decisions:c1", "t:withheld:c1",
            "t:events:c1") in redis.executed
    assert [key for key, _, _ in prepended(redis)] == ["t:decisions:c2"]


def test_a_failing_job_backs_off_and_says_so_once_per_retry(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 12:
            raise asyncio.CancelledError

    monkeypatch.setattr(timers.asyncio, "sleep", sleep)
    calls = 0

    async def redis_flush() -> None:
        nonlocal calls
        calls += 1
        if 2 <= calls <= 8:  # Redis away for seven attempts
            raise ConnectionError("Redis is away")

    with caplog.at_level(logging.WARNING, logger=timers.__name__), pytest.raises(
            asyncio.CancelledError):
        asyncio.run(timers.every(0.5, redis_flush))
    assert waits == [0.5, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 0.5, 0.5, 0.5, 0.5]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 8
    assert messages[0].startswith("redis_flush failed (1 in a row), retrying in 1.0s")
    assert messages[-1] == "redis_flush works again after 7 failures"


def test_a_redis_that_lost_the_views_is_noticed_at_the_next_flush() -> None:
    redis = FlakyRedis()
    serving = ProfileServing(redis, RedisKeys("t"))  # type: ignore[arg-type]
    redis.strings["t:served-epoch"] = "e0"  # views written before this worker started
    serving.add_decision("c1", decision(1))
    asyncio.run(serving.flush())
    assert not serving.forgotten
    serving.add_decision("c1", decision(2))
    asyncio.run(serving.flush())
    assert not serving.forgotten
    redis.strings.clear()  # restarted without its data
    serving.add_decision("c1", decision(3))
    asyncio.run(serving.flush())
    assert serving.forgotten


def test_another_workers_new_epoch_means_the_views_were_lost_too() -> None:
    redis = FlakyRedis()
    serving = ProfileServing(redis, RedisKeys("t"))  # type: ignore[arg-type]
    serving.add_decision("c1", decision(1))
    asyncio.run(serving.flush())
    serving.forgotten = False  # the first ever flush: nothing to refill
    redis.strings["t:served-epoch"] = "another"  # lost, and another worker noticed first
    serving.add_decision("c1", decision(2))
    asyncio.run(serving.flush())
    assert serving.forgotten
