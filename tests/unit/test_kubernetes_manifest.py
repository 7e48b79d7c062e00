"""deploy/kubernetes/worker.yaml agrees with the worker it runs: settings, probes, ports,
shutdown, static membership and the disruption budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nextbest.settings import EngineSettings
from nextbest.streams.settings import WorkerSettings
from nextbest.streams.web import application
from nextbest.streams.worker import SHUTDOWN_SECONDS

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "worker.yaml"


@pytest.fixture(scope="module")
def kinds() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert len(by_kind) == len(docs) - 1  # two Services, one of everything else
    return by_kind


def worker_container(kinds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = kinds["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return container


def test_every_setting_is_one_the_worker_or_engine_reads(kinds: dict[str, dict[str, Any]]
                                                         ) -> None:
    known = {f"NEXTBEST_{name.upper()}" for name in
             (*WorkerSettings.model_fields, *EngineSettings.model_fields)}
    env = [e["name"] for e in worker_container(kinds)["env"]]
    assert set(kinds["ConfigMap"]["data"]) | set(env) <= known


def test_no_more_replicas_than_partitions(kinds: dict[str, dict[str, Any]]) -> None:
    partitions = int(kinds["ConfigMap"]["data"]["NEXTBEST_PARTITIONS"])
    assert 1 <= kinds["StatefulSet"]["spec"]["replicas"] <= partitions


def test_probes_hit_the_health_endpoints_on_the_worker_port(kinds: dict[str, dict[str, Any]]
                                                            ) -> None:
    container = worker_container(kinds)
    routes = {r.resource.canonical for r in application(None).router.routes()  # type: ignore[arg-type]
              if r.resource is not None}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert {"/health/ready", "/health/live", "/metrics"} <= routes
    (port,) = container["ports"]
    assert port["containerPort"] == int(kinds["ConfigMap"]["data"]["NEXTBEST_WEB_PORT"])


def test_a_graceful_stop_fits_in_the_grace_period(kinds: dict[str, dict[str, Any]]) -> None:
    grace = kinds["StatefulSet"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= SHUTDOWN_SECONDS + 5


def test_static_membership_from_the_stable_pod_name(kinds: dict[str, dict[str, Any]]) -> None:
    env = {e["name"]: e for e in worker_container(kinds)["env"]}
    worker_id = env["NEXTBEST_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert worker_id == "metadata.name"


def test_disruption_budget_covers_the_workers(kinds: dict[str, dict[str, Any]]) -> None:
    budget = kinds["PodDisruptionBudget"]["spec"]
    pods = kinds["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= pods.items()
