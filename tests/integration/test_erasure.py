"""Erasure reaches every store: after a customer who had merged two profiles asks to be
forgotten, none of their identifiers, ids or words is left in the identity graph, the profile
table, Redis, the next model checkpoint or the sentiment digest, and the acknowledgement says
what was removed.

Kafka topics that carry events and decisions (the input topics, the decision topics and log,
lessons, outcomes) keep what they carry until their retention ends (README, RELIABILITY.md);
the models keep what they learnt in aggregate (word statistics, item co-occurrences)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from nextbest.identity.graph import new_customer_id, normalise
from nextbest.models.sentiment.digest import week_of
from nextbest.models.suite import CHECKPOINT_MAGIC
from nextbest.streams.checkpoints import load_checkpoint
from tests.events import DAY, MINUTE, identity, order, review, support
from tests.integration.harness import Harness

pytestmark = pytest.mark.timeout(300)

HOUR = 60 * MINUTE

NOON = 1_767_268_800_000


def latest(records: list[Any]) -> dict[bytes, bytes | None]:
    """A compacted topic as its consumers see it: the newest value per key."""
    return {r.key: r.value for r in records if r.key is not None}


@pytest.fixture
def erased(kafka_bootstrap: str, redis_url: str, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Harness, dict[str, Any]]]:
    monkeypatch.setenv("NEXTBEST_MODEL_CHECKPOINT_SECONDS", "1")
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, data_dir=tmp_path,
                      prefix=f"nberase-{uuid.uuid4().hex[:8]}")
    run = uuid.uuid4().hex[:8]
    email, phone = f"gone-{run}@example.com", f"+49170{int(run, 16) % 10**7:07d}"
    words = [f"parcel {run} arrived broken", f"zipper {run} tore at once"]
    harness.start_worker()
    try:
        harness.publish("support", [support(NOON, f"conv-{run}", f"My {words[0]} and nobody "
                                            "answers, this is the worst shop ever",
                                            customer={"email": email})])
        harness.publish("review", [review(NOON + HOUR, "dress-1", 1, f"Terrible: the "
                                          f"{words[1]}, awful quality, never again",
                                          customer={"phone": phone})])
        harness.customer(f"phone:{phone}", until=lambda v: True)
        harness.publish("purchase", [order(NOON + DAY, f"o-{run}", customer={"email": email,
                                                                             "phone": phone})])
        ids = {new_customer_id(f"email:{email}"),
               new_customer_id(f"phone:{normalise('phone', phone)}")}
        view = harness.customer(f"email:{email}", until=lambda v: v["profile"]["orders"] == 1
                                and v["profile"]["support_contacts"]
                                and v["customer_id"] in ids)
        survivor = view["customer_id"]
        absorbed = sorted(ids - {survivor})
        harness.publish("identity", [identity(NOON + 2 * DAY, "erasure_requested",
                                              customer={"phone": phone},
                                              event_id=f"erase-{run}")])
        acks = harness.records(harness.settings.erasure_ack_topic, "erasure_ack",
                               until=lambda rs: any(r["customer_id"] == survivor for r in rs))
        time.sleep(3)  # the next model checkpoint (every second here) is written meanwhile
        yield harness, {"ack": next(r for r in acks if r["customer_id"] == survivor),
                        "ids": [survivor, *absorbed], "identifiers": [email, phone],
                        "words": words}
    finally:
        harness.worker.stop()


def test_the_acknowledgement_lists_what_was_removed(erased: tuple[Harness, dict]) -> None:
    _, who = erased
    ack = who["ack"]
    assert ack["identifiers_removed"] == 2
    assert {"identity_graph", "profile_table", "redis", "merged_ids",
            "models.digest_examples"} <= set(ack["stores"])
    assert all(s in {"identity_graph", "profile_table", "redis", "merged_ids"}
               or s.startswith("models.") for s in ack["stores"])


def test_nothing_of_the_customer_is_left_in_any_store(erased: tuple[Harness, dict]) -> None:
    harness, who = erased
    settings = harness.settings
    secrets = [*who["ids"], *who["identifiers"], *who["words"]]

    def left_in(where: str, blob: bytes | str | None) -> list[str]:
        if blob is None:
            return []
        text = blob.decode(errors="replace") if isinstance(blob, bytes) else blob
        return [f"{where}: {s} in {text[:300]!r}" for s in secrets if s.lower() in text.lower()]

    found: list[str] = []
    graph = latest(harness.read([settings.identity_graph_topic], until=lambda rs: True))
    for key, value in graph.items():  # a tombstone's key goes at compaction (admin.ERASABLE)
        if value is not None:
            found += left_in("identity graph", key + b" " + value)
    profiles = latest(harness.read([settings.customer_state_topic], until=lambda rs: True))
    for customer_id in who["ids"]:
        assert profiles.get(customer_id.encode()) is None, f"profile of {customer_id} left"
    for key, value in profiles.items():
        if value is not None:
            found += left_in("profile table", key + b" " + value)
    client = redis.Redis.from_url(harness.settings.redis_url.get_secret_value())
    for key in client.scan_iter(f"{settings.app_name}:*"):
        kind = client.type(key)
        values = ([client.get(key)] if kind == b"string" else
                  client.lrange(key, 0, -1) if kind == b"list" else [])
        for value in [key, *values]:
            found += left_in("redis", value)
    checkpoint = asyncio.run(load_checkpoint(settings))
    assert checkpoint is not None
    found += left_in("model checkpoint", zlib.decompress(checkpoint[len(CHECKPOINT_MAGIC):]))
    with urllib.request.urlopen(f"{harness.worker.url}/digest?week={week_of(NOON)}") as response:
        found += left_in("digest", response.read())
    assert found == [], "\n".join(found)


def test_the_ids_are_derived_from_the_identifiers(erased: tuple[Harness, dict]) -> None:
    """(So that a leak of a canonical id above would be a leak of the customer.)"""
    _, who = erased
    assert new_customer_id(f"email:{who['identifiers'][0]}") in who["ids"]
