"""No customer identifier or message text in what a worker lets anyone read without a token:
its log (at info level, with dead letters, merges and erasures among the traffic), the metric
labels of /metrics and the model statistics of /models.

Canonical customer ids (``nb-...``, derived one way from an identifier) and event ids may
appear: they name a record without naming the person."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nextbest.cli.publisher import TrafficPublisher
from nextbest.simulation import Shop
from tests.events import identity
from tests.integration.harness import Harness

pytestmark = pytest.mark.timeout(300)

MESSAGES, RATE = 3_000, 300.0
IDENTIFIER_KINDS = ("customer_id", "email", "phone", "device_id", "loyalty_id", "pos_id")


class Secrets:
    """What the traffic said that names or quotes a person."""

    def __init__(self) -> None:
        self.identifiers: set[str] = set()
        self.texts: set[str] = set()

    def collect(self, event: dict[str, Any]) -> None:
        for kind in IDENTIFIER_KINDS:
            value = (event.get("customer") or {}).get(kind)
            if value:
                self.identifiers.add(str(value))
        text = event.get("text")
        if isinstance(text, str) and len(text) >= 12:
            self.texts.add(text[:40])

    def found_in(self, where: str, content: str) -> list[str]:
        lowered = content.lower()
        return [f"{where}: {secret!r}" for secret in sorted(self.identifiers | self.texts)
                if secret.lower() in lowered]


def published(shop: Shop, secrets: Secrets) -> Iterator[Any]:
    for message in shop.events():
        event = getattr(message, "event", None)
        if isinstance(event, dict):
            secrets.collect(event)
        yield message


def read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def stepped_or_rejected(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(("nextbest_events_in_total", "nextbest_deadletters_total")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_no_identifier_or_text_in_logs_metrics_or_models(
        kafka_bootstrap: str, redis_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTBEST_WORKER_LOGLEVEL", "info")
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, data_dir=tmp_path,
                      prefix=f"nbpriv-{uuid.uuid4().hex[:8]}", engine={})
    shop = Shop(seed=11, customers=150, time_scale=144_000.0, malformed_share=0.03)
    secrets = Secrets()
    harness.start_worker()
    try:
        async def publish() -> int:
            async with TrafficPublisher(harness.settings) as publisher:
                for item in shop.catalog():
                    await publisher.send(item)
                stats = await publisher.publish(published(shop, secrets), rate=RATE,
                                                limit=MESSAGES)
                return int(stats.sent)

        sent = asyncio.run(publish())
        erased = sorted(i for i in secrets.identifiers if "@" in i)[:3]
        harness.publish("identity", [identity(int(time.time() * 1000), "erasure_requested",
                                              customer={"email": e}) for e in erased])
        deadline = time.monotonic() + 120
        metrics = read(f"{harness.worker.url}/metrics")
        while stepped_or_rejected(metrics) < sent + len(erased) and time.monotonic() < deadline:
            time.sleep(1)
            metrics = read(f"{harness.worker.url}/metrics")
        assert stepped_or_rejected(metrics) >= sent + len(erased)
        assert len(secrets.identifiers) > 100 and len(secrets.texts) > 20
        log = harness.worker.log_path.read_text()
        assert "INFO" in log  # the scan reads the talkative log, not a silent one
        leaks = (secrets.found_in("log", log) + secrets.found_in("/metrics", metrics)
                 + secrets.found_in("/models", read(f"{harness.worker.url}/models")))
        assert leaks == []
    finally:
        harness.worker.stop()
