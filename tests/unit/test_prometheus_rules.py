"""deploy/prometheus: promtool accepts the configs and rules, the rules' unit tests pass, the
rules name only metrics a worker exports, and the `up` rules select the job that both scrape
configs (docker compose, and Kubernetes by the manifest's annotations) give the workers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring import (
    ALERT_TESTS,
    ALERTS,
    COMPOSE_CONFIG,
    KUBERNETES_CONFIG,
    MANIFEST,
    SCRAPE_JOB,
    alert_rules,
    dashboards,
    exported_families,
    kubernetes_endpoints,
    load_yaml,
    panel_queries,
    scrape_job,
    series_names,
    with_file_discovery,
)
from tests.promql import COMPARISONS, checked_queries

NO_KUBERNETES_DISCOVERY = "field kubernetes_sd_configs not found"
"""What promtool says when built without Kubernetes discovery (Debian's package)."""


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert_ok(result)
    assert f"{len(alert_rules())} rules found" in result.stdout


def test_promtool_checks_the_compose_config() -> None:
    assert_ok(promtool("check", "config", str(COMPOSE_CONFIG)))


def test_promtool_checks_the_kubernetes_config(tmp_path: Path) -> None:
    result = promtool("check", "config", str(KUBERNETES_CONFIG))
    if NO_KUBERNETES_DISCOVERY not in result.stdout + result.stderr:
        assert_ok(result)
        return
    # This promtool lacks Kubernetes discovery: check the rest with file discovery instead.
    config = load_yaml(KUBERNETES_CONFIG)
    (targets := tmp_path / "targets.json").write_text("[]")
    config["scrape_configs"] = [
        with_file_discovery(job, [str(targets)]) if "kubernetes_sd_configs" in job else job
        for job in config["scrape_configs"]]
    config["rule_files"] = [str(ALERTS)]
    (swapped := tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert_ok(promtool("check", "config", str(swapped)))


def test_promtool_unit_tests_of_the_alerts() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_the_up_rules_and_dashboards_select_the_job_both_configs_scrape() -> None:
    compose, kubernetes = scrape_job(COMPOSE_CONFIG), scrape_job(KUBERNETES_CONFIG)
    assert compose["job_name"] == kubernetes["job_name"] == SCRAPE_JOB
    # Relabelling must not rename the job either.
    assert all(r.get("target_label") != "job" for r in kubernetes.get("relabel_configs", []))
    exprs = [r["expr"] for r in alert_rules()] + [
        q.expr for name, board in dashboards().items() for q in panel_queries(name, board)]
    exprs += [v["definition"] for board in dashboards().values()
              for v in board["templating"]["list"]]
    jobs = {job for e in exprs for job in re.findall(r'\bup\{[^}]*\bjob="([^"]*)"', e)}
    assert jobs == {SCRAPE_JOB}
    assert {r["alert"] for r in alert_rules() if "up{" in r["expr"]} == {
        "NextbestWorkerDown", "NextbestWorkerAbsent"}


def test_one_service_is_annotated_for_scraping_on_the_worker_port() -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    (container,) = next(d for d in docs if d["kind"] == "StatefulSet")[
        "spec"]["template"]["spec"]["containers"]
    port = container["ports"][0]["containerPort"]
    annotated = [(d["metadata"].get("annotations") or {}) for d in docs if d["kind"] == "Service"
                 and (d["metadata"].get("annotations") or {}).get("prometheus.io/scrape")]
    assert annotated == [{"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                          "prometheus.io/path": "/metrics"}]  # two would scrape workers twice


def test_the_kubernetes_job_keeps_the_annotated_service_only() -> None:
    """The keep rules against the labels discovery gives each Service's endpoints (the real
    relabelling runs in tests/integration/test_monitoring.py)."""
    keep = [r for r in scrape_job(KUBERNETES_CONFIG)["relabel_configs"]
            if r.get("action") == "keep"]

    def kept(labels: dict[str, str]) -> bool:
        return all(re.fullmatch(r["regex"], ";".join(labels.get(s, "")
                                                     for s in r["source_labels"]))
                   for r in keep)

    by_service = {g["labels"]["__meta_kubernetes_service_name"]: kept(g["labels"])
                  for g in kubernetes_endpoints("10.0.0.7:6066", 6066)}
    assert by_service == {"nextbest-worker": True, "nextbest-worker-headless": False}


def test_alerts_name_only_exported_metrics_and_explain_themselves() -> None:
    names = series_names(exported_families())
    for rule in alert_rules():
        used = set(re.findall(r"\bnextbest_[a-z0-9_]+", rule["expr"]))
        assert used <= set(names), (rule["alert"], used - set(names))
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_leaves_queries_without_a_comparison() -> None:
    for rule in alert_rules():
        queries = checked_queries(rule["expr"])
        assert queries, rule["alert"]
        for query in queries:
            outside = query
            while outside != (outside := re.sub(r"\([^()]*\)|\{[^{}]*\}|\[[^][]*\]", "",
                                                outside)):
                pass  # brackets removed from the inside out: what is left is top level
            assert not any(op in outside for op in COMPARISONS), (rule["alert"], query)
