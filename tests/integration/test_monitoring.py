"""The dashboards and alerts against a real Prometheus scraping a real worker under simulated
shop traffic (real broker and Redis).

Prometheus (the installed binary, a temporary folder, a free port) runs the `nextbest` job of
deploy/prometheus/prometheus-kubernetes.yml with its relabelling as it is, every second, and
loads deploy/prometheus/alerts.yml. Kubernetes discovery is replaced by file discovery fed with
the labels Kubernetes would give the worker's endpoints behind each Service of
deploy/kubernetes/worker.yaml, so the scrape goes through the annotations: the worker must be
kept under job="nextbest" (what the `up` rules select) and the headless Service dropped.

After the traffic, every query is evaluated through /api/v1/query and must parse and return at
least one series:

- each target of each dashboard panel, with ``$__rate_interval``, ``$__interval`` and
  ``$__range`` set to a window covering the whole run, and each template variable set to the
  values its own ``label_values`` query finds (as Grafana sends a multi-value regex);
- each alert's expression, cut by :func:`tests.promql.checked_queries` into the queries that
  return series when all is well: the thresholds of comparisons dropped (``X > 0.2`` -> ``X``),
  each operand of ``and``/``or``/``unless`` on its own, ``absent(X)`` -> ``X``.

The rules must also evaluate without error in Prometheus's own rule manager.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nextbest.cli.publisher import PublishStats, TrafficPublisher
from nextbest.simulation import Shop
from nextbest.streams.settings import WorkerSettings
from tests.integration.harness import Harness
from tests.integration.prometheus import Prometheus, QueryError
from tests.monitoring import (
    ALERTS,
    KUBERNETES_CONFIG,
    SCRAPE_JOB,
    Query,
    alert_rules,
    dashboards,
    kubernetes_endpoints,
    panel_queries,
    scrape_job,
    with_file_discovery,
)
from tests.promql import checked_queries, grafana_query

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="prometheus is not installed (Debian: apt-get install prometheus)"),
]

POD = "nextbest-worker-0"
MESSAGES, RATE = 4_000, 150.0
"""About 27 s of a shop's traffic: 53 days of event time, so attribution windows close, churn
labels come due and conversations are resolved; 2% malformed for the dead-letter queries."""


def start_prometheus(port: int) -> Prometheus:
    job = with_file_discovery(scrape_job(KUBERNETES_CONFIG), ["{folder}/targets.json"])
    job.update(scrape_interval="1s", scrape_timeout="1s")
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(ALERTS)], "scrape_configs": [job]}
    return Prometheus(config, files={
        "targets.json": kubernetes_endpoints(f"127.0.0.1:{port}", port, POD)})


def publish_shop_traffic(settings: WorkerSettings) -> PublishStats:
    shop = Shop(seed=7, customers=200, time_scale=144_000.0, malformed_share=0.02)

    async def publish() -> PublishStats:
        async with TrafficPublisher(settings) as publisher:
            for item in shop.catalog():
                await publisher.send(item)
            return await publisher.publish(shop.events(), rate=RATE, limit=MESSAGES)

    return asyncio.run(publish())


def wait_for(prometheus: Prometheus, expr: str, done: Any, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        value = prometheus.value(expr)
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


@pytest.fixture
def scraped(kafka_bootstrap: str, redis_url: str, tmp_path: Path
            ) -> Iterator[tuple[Harness, Prometheus]]:
    harness = Harness(kafka=kafka_bootstrap, redis=redis_url, data_dir=tmp_path,
                      prefix=f"nbmon-{uuid.uuid4().hex[:8]}", engine={})  # guardrails on
    prometheus = start_prometheus(harness.settings.web_port)
    try:
        harness.start_worker()
        prometheus.ready()
        assert wait_for(prometheus, f'sum(up{{job="{SCRAPE_JOB}"}})', lambda v: v == 1) == 1, \
            prometheus.log_tail()
        yield harness, prometheus
    finally:
        harness.worker.stop()
        prometheus.stop()


def template_values(prometheus: Prometheus, board: dict[str, Any]) -> dict[str, str]:
    """Each template variable as Grafana fills a multi-value variable into a regex, with the
    values its ``label_values(query, label)`` finds."""
    values = {}
    for variable in board["templating"]["list"]:
        found = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
        assert found, f"unsupported variable query {variable['definition']}"
        series = prometheus.api("series", **{"match[]": found.group(1)})
        labels = sorted({s[found.group(2)] for s in series if found.group(2) in s})
        assert labels, f"variable {variable['name']}: {variable['definition']} found nothing"
        escaped = [re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", v) for v in labels]
        values[variable["name"]] = f"({'|'.join(escaped)})"
    return values


def evaluate(prometheus: Prometheus, queries: list[Query]) -> list[str]:
    """What went wrong with each query: refused by Prometheus, or no series."""
    failures = []
    for query in queries:
        try:
            if not prometheus.query(query.expr):
                failures.append(f"{query.where}: no series\n    {query.expr}")
        except QueryError as exc:
            failures.append(f"{query.where}: {exc}\n    {query.expr}")
    return failures


def test_every_panel_and_alert_query_answers_for_a_worker_under_traffic(
        scraped: tuple[Harness, Prometheus]) -> None:
    harness, prometheus = scraped
    started = time.monotonic()
    stats = publish_shop_traffic(harness.settings)
    valid = stats.sent - stats.malformed - stats.by_family.get("catalog", 0)
    seen = wait_for(prometheus, 'sum(nextbest_events_in_total{family!="catalog"})',
                    lambda v: v >= valid)
    assert seen >= valid, f"the worker accepted {seen} of {valid} events"
    assert wait_for(prometheus, "sum(nextbest_deadletters_total)",
                    lambda v: v >= stats.malformed) >= stats.malformed > 0
    assert wait_for(prometheus, "sum(nextbest_consumer_lag)", lambda v: v == 0) == 0
    time.sleep(3)  # the last counts scraped a few times
    window = f"{int(time.monotonic() - started) + 15}s"

    (target,) = prometheus.api("targets")["activeTargets"]
    assert target["health"] == "up", target
    assert {k: target["labels"][k] for k in ("job", "instance", "namespace")} == {
        "job": SCRAPE_JOB, "instance": POD, "namespace": "nextbest"}
    assert target["scrapeUrl"] == f"http://127.0.0.1:{harness.settings.web_port}/metrics"
    dropped = [t["discoveredLabels"]["__meta_kubernetes_service_name"]
               for t in prometheus.api("targets")["droppedTargets"]]
    assert dropped == ["nextbest-worker-headless"]

    queries = []
    for name, board in dashboards().items():
        variables = template_values(prometheus, board)
        queries += [Query(q.where, grafana_query(q.expr, window=window, variables=variables))
                    for q in panel_queries(name, board)]
    for rule in alert_rules():
        queries += [Query(f"alert {rule['alert']}", q) for q in checked_queries(rule["expr"])]
    failures = evaluate(prometheus, queries)
    assert not failures, f"{len(failures)} of {len(queries)} queries failed:\n" + "\n".join(
        failures)

    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(r["alert"] for r in alert_rules())
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
