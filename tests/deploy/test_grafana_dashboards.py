"""deploy/grafana: provisioning points at the dashboards, and every panel's PromQL parses in
promtool and names only metrics the server or the sweeps export.

Grafana itself is not run here: what a real Grafana adds (rendering, unit names, the datasource
answering) is listed in docs/deploy-observability.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_metrics import grafana_to_promql, known_metric, promql_metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels


def _dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every query of every panel."""
    return [
        (path.name, panel["title"], target["expr"])
        for path in DASHBOARDS
        for panel in _panels(_dashboard(path)["panels"])
        for target in panel.get("targets", [])
    ]


def _datasource_uid() -> str:
    provisioning = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
    (source,) = yaml.safe_load(provisioning.read_text(encoding="utf-8"))["datasources"]
    assert source["type"] == "prometheus"
    uid: str = source["uid"]
    return uid


def test_the_expected_dashboards_exist_with_unique_uids() -> None:
    titles = {_dashboard(p)["title"] for p in DASHBOARDS}
    assert titles == {
        "SkyRoute server", "SkyRoute decisions", "SkyRoute gap filler and live",
        "SkyRoute experiments",
    }  # fmt: skip
    uids = [_dashboard(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


def test_every_panel_queries_the_provisioned_datasource() -> None:
    uid = _datasource_uid()
    for path in DASHBOARDS:
        panels = list(_panels(_dashboard(path)["panels"]))
        assert panels, path.name
        ids = [panel["id"] for panel in panels]
        assert len(set(ids)) == len(ids), f"{path.name}: duplicate panel ids"
        for panel in panels:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid
                assert target["expr"].strip()


def test_the_provider_reads_the_folder_compose_mounts_the_dashboards_at() -> None:
    provider_file = GRAFANA / "provisioning" / "dashboards" / "skyroute.yml"
    (provider,) = yaml.safe_load(provider_file.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_every_panel_expression_parses_in_promtool(tmp_path: Path) -> None:
    """Each query becomes a recording rule; ``promtool check rules`` parses them all."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is missing (to fix: bash scripts/system-deps.sh, Debian's prometheus)"
        )
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": grafana_to_promql(expr)}
        for i, (_, _, expr) in enumerate(_exprs())
    ]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    path = tmp_path / "panels.yml"
    bad = {"record": "dashboard:bad:check", "expr": "sum by (route (rate(x[5m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": [bad]}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, check=False
    )
    assert result.returncode != 0


def test_every_panel_names_only_exported_metrics() -> None:
    for dashboard, title, expr in _exprs():
        unknown = {m for m in promql_metric_names(grafana_to_promql(expr)) if not known_metric(m)}
        assert not unknown, f"{dashboard} / {title} names {unknown}"
        for pattern in re.findall(r'__name__=~?"([^"]*)"', expr):  # name matchers: sweeps only
            assert pattern.startswith("skyroute_sweep_"), f"{dashboard} / {title}: {pattern}"


def test_the_runbooks_panel_references_exist() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    panels = {
        (_dashboard(p)["title"], panel["title"])
        for p in DASHBOARDS
        for panel in _panels(_dashboard(p)["panels"])
    }
    refs = [
        (dashboard, " ".join(panel.split()))  # a title may wrap across lines
        for dashboard, panel in re.findall(r'\*(SkyRoute [a-z ]+)\*\s+→\s+"([^"]+)"', runbook)
    ]
    assert len(refs) >= 10
    missing = [ref for ref in refs if ref not in panels]
    assert not missing, f"docs/runbook.md names panels that do not exist: {missing}"
