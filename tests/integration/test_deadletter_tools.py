"""``nextbest deadletters`` on a real broker with a real worker.

The cure a replay can honestly bring: the same bytes, a worker that now reads them. A producer
upgraded first writes reviews with a new version of the review schema (a new id, one more
optional field); the workers, one release behind, do not know the id and dead-letter those
reviews as ``unknown_schema_id``. Once the workers are upgraded (their schema folder has the
new version), replaying the dead letters gets the good review stepped once - and replaying it
again changes nothing - while a new-version review with a rating of 9 comes back to the
dead-letter topic, now as ``invalid_value``, carrying both reasons."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from nextbest.cli import main
from nextbest.cli.deadletters import DeadLetter, partitions, read_deadletters
from nextbest.cli.worker_process import WorkerProcess
from nextbest.codec import Codec, EmbeddedRegistry, schema_dir
from nextbest.identity.graph import new_customer_id
from nextbest.streams import kafka
from nextbest.streams.deadletter import ALL_REASONS, RETRY_OF, RETRY_REASONS
from tests.events import review
from tests.integration.harness import Harness


def schemas_with_a_new_review(folder: Path) -> tuple[Path, int]:
    """The repo's schemas plus a new version of the review schema under the next unused id
    (one more optional field, as EVOLUTION.md allows); returns the folder and the id."""
    shutil.copytree(schema_dir(), folder)
    index = json.loads((folder / "registry.json").read_text())
    versions = index["subjects"]["nextbest.events.ReviewEvent"]["versions"]
    latest = max(versions, key=lambda v: v["version"])
    schema = json.loads((folder / latest["file"]).read_text())
    schema["fields"].append({"name": "photos", "type": ["null", "int"], "default": None,
                             "doc": "How many photos the customer attached."})
    new_id = 1 + max(v["id"] for subject in index["subjects"].values()
                     for v in subject["versions"])
    name = f"review.v{latest['version'] + 1}.avsc"
    (folder / name).write_text(json.dumps(schema, indent=2))
    versions.append({"version": latest["version"] + 1, "id": new_id, "file": name})
    (folder / "registry.json").write_text(json.dumps(index, indent=2))
    return folder, new_id


def command(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def letters(harness: Harness, count: int) -> list[DeadLetter]:
    deadline = time.monotonic() + 60
    found: list[DeadLetter] = []
    while time.monotonic() < deadline:
        found = asyncio.run(read_deadletters(harness.settings))
        if len(found) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{len(found)} dead letters, not {count}")


def end_of(harness: Harness, topic: str) -> int:
    """How many messages ``topic`` holds (its end offsets added up)."""
    async def ends() -> int:
        consumer = kafka.consumer(harness.settings, group=None)
        await consumer.start()
        try:
            tps = await partitions(consumer, topic)
            return sum((await kafka.end_offsets(consumer, tps)).values())
        finally:
            await consumer.stop()
    return asyncio.run(ends())


def thanks(decisions: list[dict[str, Any]], customer: str) -> list[dict[str, Any]]:
    return [d for d in decisions if d["decision_type"] == "thank_you"
            and d["customer_id"] == customer]


def test_replay_after_the_workers_learn_a_schema(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NEXTBEST_SCHEMA_DIR", raising=False)
    monkeypatch.setenv("NEXTBEST_KAFKA_BROKER", kafka_bootstrap)
    monkeypatch.setenv("NEXTBEST_TOPIC_PREFIX", f"{topic_prefix}.")
    upgraded, new_id = schemas_with_a_new_review(tmp_path / "schemas-upgraded")
    producer_codec = Codec(EmbeddedRegistry(upgraded))
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, prefix=topic_prefix,
                      data_dir=tmp_path)
    settings = harness.settings
    reviews = settings.input_topic("review")
    harness.start_worker()
    try:
        now = int(time.time() * 1000)
        known = {"email": "known@example.com"}
        fine = {"email": "fine@example.com"}
        broken = {"email": "broken@example.com"}
        harness.publish("review", [review(now, "mug-1", 5, "Lovely", customer=known)])
        cured = {**review(now + 1, "mug-1", 4, "Nice mug", customer=fine,
                          event_id="ev-fine"), "photos": 2}
        nine = {**review(now + 2, "mug-1", 9, "Too good", customer=broken,
                         event_id="ev-broken"), "photos": None}
        harness.publish("review", [], raw=[
            producer_codec.encode("review", cured),
            producer_codec.encode("review", nine, check=False),  # a rating the codec refuses
            b'{"family": "review", "event_id": ',
        ])
        first = letters(harness, 3)

        # list: grouped by reason and source topic
        groups = [orjson.loads(line) for line in command(
            capsys, "deadletters", "list", "--json").splitlines()]
        counts = {(g["reason"], g["source_topic"]): g["count"] for g in groups}
        assert counts == {("unknown_schema_id", reviews): 2, ("invalid_json", reviews): 1}
        table = command(capsys, "deadletters", "list")
        assert f"3 dead letters on {settings.deadletter_topic}" in table
        assert any(line.split()[:3] == ["unknown_schema_id", reviews, "2"]
                   for line in table.splitlines())

        (fine_letter,) = [d for d in first if d.value == producer_codec.encode("review", cured)]
        (nine_letter,) = [d for d in first if d.reason == "unknown_schema_id"
                          and d is not fine_letter]
        # show, by a worker's codec that does not know id 12 yet: the bytes, and why
        shown = command(capsys, "deadletters", "show", fine_letter.where)
        assert "reason: unknown_schema_id" in shown
        assert f"Confluent framing with schema id {new_id}" in shown
        assert "origin = test" in shown  # the message's own headers are kept

        # a dry run sends nothing
        before = end_of(harness, reviews)
        dry = command(capsys, "deadletters", "replay", "--reason", "unknown_schema_id",
                      "--dry-run")
        assert "2 would replay" in dry
        assert end_of(harness, reviews) == before

        # the workers are upgraded: they read the new review version now
        harness.worker.stop()
        monkeypatch.setenv("NEXTBEST_SCHEMA_DIR", str(upgraded))
        harness.worker = WorkerProcess(settings, log_path=tmp_path / "upgraded.log",
                                       engine=harness.engine)
        harness.worker.start()
        harness.worker.ready()
        shown = command(capsys, "deadletters", "show", fine_letter.where)
        assert f"Avro, schema id {new_id}, a valid review event" in shown
        assert '"photos": 2' in shown

        replayed = command(capsys, "deadletters", "replay", "--reason", "unknown_schema_id")
        assert "2 replayed" in replayed
        assert f"replayed {fine_letter.where} (unknown_schema_id) -> {reviews}" in replayed

        # the cured review is stepped: the customer is thanked
        fine_id = new_customer_id("email:fine@example.com")
        decided = harness.decisions(until=lambda ds: bool(thanks(ds, fine_id)))
        assert len(thanks(decided, fine_id)) == 1

        # the still-bad one is back, with both reasons and where it came from
        again = [d for d in letters(harness, 4) if d.where not in {x.where for x in first}]
        (back,) = again
        assert back.reason == "invalid_value"
        assert back.header(ALL_REASONS) == "unknown_schema_id,invalid_value"
        assert back.header(RETRY_REASONS) == "unknown_schema_id"
        assert back.header(RETRY_OF) == f"{settings.deadletter_topic}:{nine_letter.where}"
        assert back.value == nine_letter.value
        shown = command(capsys, "deadletters", "show", back.where)
        assert "reason: invalid_value (before: unknown_schema_id)" in shown
        assert f"a replay of: {settings.deadletter_topic}:{nine_letter.where}" in shown
        groups = [orjson.loads(line) for line in command(
            capsys, "deadletters", "list", "--json").splitlines()]
        assert {(g["reason"], g["count"]) for g in groups} >= {("invalid_value", 1)}

        # replayed twice: the engine does not step the event twice
        command(capsys, "deadletters", "replay", "--offsets", fine_letter.where)
        sentinel = review(now + 3, "mug-2", 2, "The second one chipped", customer=fine,
                          event_id="ev-fine-later")
        # the same partition of the same topic as the replays: read after them, in order
        harness.publish("review", [], raw=[producer_codec.encode("review", sentinel)])
        view = harness.customer("email:fine@example.com", until=lambda v: any(
            e["event_id"] == "ev-fine-later" for e in v["recent_events"]))
        assert [e["event_id"] for e in view["recent_events"]].count("ev-fine") == 1
        assert view["profile"]["reviews"] == 2
        assert 'nextbest_events_in_total{family="review"} 3.0' in harness.metrics()
        decided = harness.decisions(until=lambda ds: bool(thanks(ds, fine_id)))
        assert len(thanks(decided, fine_id)) == 1
        assert len(letters(harness, 4)) == 4  # nothing else dead-lettered
    finally:
        harness.worker.stop()
