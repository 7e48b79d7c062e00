"""Repeated lines of a client library are thinned while a dependency is away."""

from __future__ import annotations

import logging

from nextbest.streams.logs import RepeatedLines
from tests.clock import ManualClock


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_the_same_kind_of_line_once_per_interval_then_with_what_was_left_out() -> None:
    clock = ManualClock(100.0)
    thinning = RepeatedLines(10.0, clock=clock)
    passed = []
    for n in range(300):
        clock.now = 100.0 + n * 0.05  # 20 a second for 15 s
        line = record("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, n)
        if thinning.filter(line):
            passed.append(line.getMessage())
    assert len(passed) == 2
    assert passed[0] == "Failed fetch messages from 1: 0"
    assert passed[1].startswith("Failed fetch messages from 1: 200 (199 more like this in the "
                                "last 10 s not logged)")


def test_kinds_are_thinned_apart_and_other_loggers_not_at_all() -> None:
    thinning = RepeatedLines(10.0, clock=ManualClock(100.0))
    assert thinning.filter(record("aiokafka", "Unable connect to node with id %s", 1))
    assert thinning.filter(record("aiokafka", "Unable to update metadata from %s", [1]))
    assert not thinning.filter(record("aiokafka", "Unable connect to node with id %s", 1))
    assert thinning.filter(record("aiokafka", "Unable connect to node with id %s", 1,
                                  level=logging.WARNING))
    for _ in range(3):
        assert thinning.filter(record("nextbest.streams.worker", "a stage failed: %s", "x"))
