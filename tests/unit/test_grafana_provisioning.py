"""deploy/grafana against the structure Grafana provisions (no Grafana here: it is neither in
Debian bookworm nor on PyPI): the datasource and dashboard providers, and in every dashboard
panels with a type, a place on the grid that no other panel takes, the provisioned datasource
and PromQL targets; template variables defined where they are used; and a panel for every
metric family a worker exports. tests/integration/test_monitoring.py runs the queries."""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations
from typing import Any

import pytest

from tests.monitoring import (
    DASHBOARDS,
    PROVISIONING,
    ROOT,
    dashboards,
    exported_families,
    load_yaml,
    panel_queries,
    panels,
    series_names,
)
from tests.promql import grafana_query

GRID_COLUMNS = 24
PANEL_TYPES = {"stat", "timeseries", "bargauge", "gauge", "table", "barchart", "heatmap",
               "piechart", "text"}
BOARDS = dashboards()


def datasources() -> dict[str, dict[str, Any]]:
    config = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")
    assert config["apiVersion"] == 1
    return {d["uid"]: d for d in config["datasources"]}


def grafana_service() -> dict[str, Any]:
    return dict(load_yaml(ROOT / "docker-compose.yml")["services"]["grafana"])


def mounts() -> dict[str, str]:
    """Container path -> repository path of the Grafana service's volumes."""
    found = {}
    for volume in grafana_service()["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = source[2:]
    return found


def test_one_default_prometheus_datasource_with_a_uid() -> None:
    sources = list(datasources().values())
    assert [s["isDefault"] for s in sources].count(True) == 1
    for source in sources:
        assert source["type"] == "prometheus" and source["access"] == "proxy"
        assert source["name"] and re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", source["uid"])
        assert source["url"].startswith("http")


def test_the_dashboard_provider_reads_the_dashboards_folder() -> None:
    config = load_yaml(PROVISIONING / "dashboards" / "nextbest.yml")
    (provider,) = config["providers"]
    assert config["apiVersion"] == 1 and provider["type"] == "file"
    volumes = mounts()
    assert volumes[provider["options"]["path"]] == str(DASHBOARDS.relative_to(ROOT))
    assert volumes["/etc/grafana/provisioning"] == str(PROVISIONING.relative_to(ROOT))
    home = grafana_service()["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, name = home.rsplit("/", 1)
    assert folder == provider["options"]["path"] and name in BOARDS


def test_dashboards_have_unique_uids_and_titles() -> None:
    assert len(BOARDS) >= 2
    for key in ("uid", "title"):
        values = [board[key] for board in BOARDS.values()]
        assert len(set(values)) == len(values) and all(values), key
    assert all(len(board["uid"]) <= 40 and board["schemaVersion"] >= 36
               for board in BOARDS.values())


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_have_a_type_unique_ids_and_the_provisioned_datasource(name: str) -> None:
    sources, board = datasources(), BOARDS[name]
    ids = Counter(panel.get("id") for panel in panels(board))
    assert all(isinstance(i, int) for i in ids) and max(ids.values()) == 1, ids
    for panel in panels(board):
        where = f"{name} panel {panel.get('id')} {panel.get('title')!r}"
        assert panel.get("title"), where
        if panel.get("type") == "row":
            assert panel["gridPos"]["w"] == GRID_COLUMNS and panel["gridPos"]["h"] == 1, where
            continue
        assert panel.get("type") in PANEL_TYPES, where
        source = panel["datasource"]
        assert source["uid"] in sources and source["type"] == sources[source["uid"]]["type"]
        targets = panel.get("targets")
        assert targets, where
        assert len({t["refId"] for t in targets}) == len(targets), where
        for target in targets:
            assert isinstance(target.get("expr"), str) and target["expr"].strip(), where
            assert target.get("datasource", source)["uid"] == source["uid"], where


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    placed = []
    for panel in BOARDS[name]["panels"]:  # panels of collapsed rows are placed when expanded
        grid = panel["gridPos"]
        x, y, w, h = (grid[k] for k in ("x", "y", "w", "h"))
        assert all(isinstance(v, int) for v in (x, y, w, h)), panel["id"]
        assert x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= GRID_COLUMNS, panel["id"]
        placed.append((panel["id"], x, y, w, h))
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in combinations(placed, 2):
        apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
        assert apart, f"{name}: panels {a} and {b} overlap"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_template_variables_are_defined_where_used(name: str) -> None:
    board, sources = BOARDS[name], datasources()
    variables = board["templating"]["list"]
    for variable in variables:
        assert variable["datasource"]["uid"] in sources
        assert variable["query"]["query"] == variable["definition"]
        assert re.fullmatch(r"label_values\((?:.+, )?\w+\)", variable["definition"])
    values = {v["name"]: "x" for v in variables}
    for query in panel_queries(name, board):
        grafana_query(query.expr, window="1m", variables=values)  # KeyError: undefined


def test_every_exported_metric_family_has_a_panel() -> None:
    names = series_names(exported_families())
    used = {found for name, board in BOARDS.items() for query in panel_queries(name, board)
            for found in re.findall(r"\bnextbest_[a-z0-9_]+", query.expr)}
    assert used <= set(names), used - set(names)
    assert {names[n] for n in used} == set(names.values())
