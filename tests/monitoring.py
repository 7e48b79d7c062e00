"""What deploy/ says about monitoring, read for the tests: the Grafana dashboards and their
provisioning, the Prometheus configs and alert rules, the scrape annotations of the Kubernetes
manifest, and the metric families a worker exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
PROVISIONING = DEPLOY / "grafana" / "provisioning"
PROMETHEUS = DEPLOY / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
COMPOSE_CONFIG = PROMETHEUS / "prometheus.yml"
KUBERNETES_CONFIG = PROMETHEUS / "prometheus-kubernetes.yml"
MANIFEST = DEPLOY / "kubernetes" / "worker.yaml"
SCRAPE_JOB = "nextbest"
NAMESPACE = "nextbest"
"""The namespace deploy/kubernetes/worker.yaml is applied to (its header says so)."""


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query of a dashboard panel or an alert rule."""

    where: str
    expr: str


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboards() -> dict[str, dict[str, Any]]:
    """Every provisioned dashboard, by file name."""
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """All panels, rows included, and those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(name: str, dashboard: dict[str, Any]) -> Iterator[Query]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield Query(f"{name} panel {panel.get('id')} {panel.get('title')!r} "
                        f"target {target.get('refId')}", target.get("expr", ""))


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def scrape_job(config: Path, name: str = SCRAPE_JOB) -> dict[str, Any]:
    (job,) = [j for j in load_yaml(config)["scrape_configs"] if j["job_name"] == name]
    return dict(job)


def with_file_discovery(job: dict[str, Any], files: list[str]) -> dict[str, Any]:
    """The scrape job with file-based discovery in place of Kubernetes discovery (Debian's
    Prometheus is built without the latter); its relabelling stays as it is."""
    swapped = {k: v for k, v in job.items() if k != "kubernetes_sd_configs"}
    swapped["file_sd_configs"] = [{"files": files, "refresh_interval": "1s"}]
    return swapped


def _meta(prefix: str, values: dict[str, str]) -> dict[str, str]:
    """Kubernetes labels or annotations as Prometheus's discovery names them."""
    def name(key: str) -> str:
        return "".join(c if c.isalnum() or c == "_" else "_" for c in key)

    labels = {f"{prefix}_{name(k)}": str(v) for k, v in values.items()}
    labels.update({f"{prefix}present_{name(k)}": "true" for k in values})
    return labels


def kubernetes_endpoints(address: str, port: int, pod: str = "nextbest-worker-0"
                         ) -> list[dict[str, Any]]:
    """The targets Kubernetes discovery (role: endpoints) would hand Prometheus for one worker
    pod behind each Service of deploy/kubernetes/worker.yaml, as file-discovery groups.

    The pod is at ``address`` (``host:port``). A test worker listens on a free port rather than
    6066, so ``port`` stands in for the ``prometheus.io/port`` annotation's value; the unit tests
    check that the annotation names the worker's port."""
    groups = []
    for doc in yaml.safe_load_all(MANIFEST.read_text()):
        if not doc or doc["kind"] != "Service":
            continue
        meta = doc["metadata"]
        annotations = dict(meta.get("annotations") or {})
        if "prometheus.io/port" in annotations:
            annotations["prometheus.io/port"] = str(port)
        labels = {
            "__meta_kubernetes_namespace": NAMESPACE,
            "__meta_kubernetes_service_name": meta["name"],
            "__meta_kubernetes_pod_name": pod,
            "__meta_kubernetes_endpoint_ready": "true",
            "__meta_kubernetes_endpoint_port_name": doc["spec"]["ports"][0]["name"],
            **_meta("__meta_kubernetes_service_label", meta.get("labels") or {}),
            **_meta("__meta_kubernetes_service_annotation", annotations),
        }
        groups.append({"targets": [address], "labels": labels})
    return groups


def exported_families() -> dict[str, str]:
    """Every metric family a worker's registry holds (name -> type), read from a real
    registry built as streams/pipeline.py builds it."""
    from nextbest.engine import Engine
    from nextbest.settings import EngineSettings
    from nextbest.streams.metrics import ModelCollector, WorkerMetrics

    registry = CollectorRegistry()
    WorkerMetrics.create(registry)
    registry.register(ModelCollector(Engine(EngineSettings())))
    return {family.name: family.type for family in registry.collect()}


SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                   "gauge": ("",), "summary": ("", "_count", "_sum")}


def series_names(families: dict[str, str]) -> dict[str, str]:
    """The series names PromQL queries (a counter's ``_total``, a histogram's ``_bucket``...),
    each with its family."""
    return {f"{name}{suffix}": name for name, kind in families.items()
            for suffix in SERIES_SUFFIXES[kind]}
