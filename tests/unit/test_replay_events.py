"""``nextbest replay events``: recorded events run again give the same decision log, whatever
order they were recorded in, and what the codec refuses is counted, not lost silently."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import orjson
import pytest

from nextbest.cli.replay_events import replay_events
from nextbest.codec.json_events import dump_json_event
from nextbest.simulation.model import SimEvent
from nextbest.simulation.shop import Shop

EVENTS = 4_000


@pytest.fixture(scope="module")
def recorded() -> list[bytes]:
    shop = Shop(seed=7, customers=300)
    stream = (m for m in shop.events() if isinstance(m, SimEvent))
    return [dump_json_event(m.family, m.event)
            for m in (*shop.catalog(), *itertools.islice(stream, EVENTS))]


def run(tmp_path: Path, lines: list[bytes], name: str,
        capsys: pytest.CaptureFixture[str]) -> tuple[bytes, dict]:
    events, log = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.out"
    events.write_bytes(b"\n".join(lines) + b"\n")
    assert replay_events(events, topics=False, out=log) == 0
    return log.read_bytes(), orjson.loads(capsys.readouterr().err)


def test_a_replay_is_identical_run_twice_and_in_any_recorded_order(
        tmp_path: Path, recorded: list[bytes], capsys: pytest.CaptureFixture[str]) -> None:
    first, summary = run(tmp_path, recorded, "first", capsys)
    again, _ = run(tmp_path, recorded, "again", capsys)
    shuffled = list(recorded)
    random.Random(3).shuffle(shuffled)
    reordered, _ = run(tmp_path, shuffled, "shuffled", capsys)
    assert first == again == reordered
    log = [orjson.loads(line) for line in first.splitlines()]
    assert summary["events"] == len(recorded) and summary["dead_letters"] == {}
    assert sum(summary["decisions"].values()) == len(log)
    kinds = {record["decision_type"] for record in log if record["status"] == "sent"}
    assert {"support_reply", "cart_reminder"} <= kinds  # made by steps and by wakes
    assert len({record["decision_id"] for record in log if record["status"] == "sent"}) == len(
        [record for record in log if record["status"] == "sent"])


def test_events_the_codec_refuses_are_counted_by_reason(
        tmp_path: Path, recorded: list[bytes], capsys: pytest.CaptureFixture[str]) -> None:
    broken = [b'{"family": "purchase", "event_id": "x"}', b"not json at all"]
    _, summary = run(tmp_path, [*recorded[:200], *broken], "broken", capsys)
    assert summary["events"] == 200
    assert sum(summary["dead_letters"].values()) == 2
