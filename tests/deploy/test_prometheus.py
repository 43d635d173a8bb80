"""deploy/prometheus: the config and rules load in promtool, and every alert's unit tests pass.

promtool is Debian's ``prometheus`` package (scripts/system-deps.sh installs it). The rules'
unit tests (deploy/prometheus/tests/*.yml) make each alert fire on its symptom and stay quiet
without it; here we also check that every alert has such a test, its annotations and a runbook
section, and that the rules name only metrics the server or the sweeps export.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_metrics import known_metric, promql_metric_names

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is missing (to fix: bash scripts/system-deps.sh, Debian's prometheus)"
        )
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_config_is_valid_and_loads_the_rule_files() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULES)} rule files found" in result.stdout


def test_rules_are_valid() -> None:
    result = _promtool("check", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", *(str(p.relative_to(PROMETHEUS)) for p in UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TESTS)


def test_a_broken_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    """The unit tests can fail: expecting the latency alert on the fast route is caught."""
    source = (PROMETHEUS / "tests" / "server_test.yml").read_text(encoding="utf-8")
    broken = source.replace("route: /api/v1/ml/decide}", "route: /api/v1/ml/route}", 1)
    assert broken != source
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "server_test.yml").write_text(broken, encoding="utf-8")
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    result = _promtool("test", "rules", "tests/server_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "SkyRouteDecisionLatencyHigh" in result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_in_a_unit_test() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - fired == set(), "alerts no unit test fires"
    # An alert with no quiet case must at least have a series that does not fire beside it.
    assert names - quiet <= {"SkyRouteSweepRunOverTime"}


def test_every_alert_says_what_and_links_its_runbook_section() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    anchors = {m.lower() for m in re.findall(r"^## (\w+)$", runbook, flags=re.M)}
    for rule in _alerts():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert annotations["runbook_url"] == f"docs/runbook.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"docs/runbook.md has no '## {rule['alert']}'"


def test_rules_name_only_exported_metrics() -> None:
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                unknown = {m for m in promql_metric_names(rule["expr"]) if not known_metric(m)}
                assert not unknown, f"{rule.get('alert')} names {unknown}"


def test_scrape_config_reaches_the_server_and_the_pushgateway() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["skyroute"]["metrics_path"] == "/metrics"
    assert jobs["pushgateway"]["honor_labels"] is True  # keeps job="skyroute_sweep"
    assert config["rule_files"] == ["rules/*.yml"]
