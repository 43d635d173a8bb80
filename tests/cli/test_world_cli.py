"""`skyroute simulate` with hard constraints, and `skyroute world sensitivity`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyroute.cli.main import app
from skyroute.world import model
from skyroute.world.model import Range

runner = CliRunner()
TRACE = "synthetic:functions=20,days=1,seed=2"


def test_simulate_keeps_provider_and_latency_constraints(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(
        app,
        ["simulate", "--trace", TRACE, "--policy", "greedy,random,oracle", "--out", str(out),
         "--providers", "aws", "--max-latency-ms", "400"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["objective"]["constraints"]["max_latency_ms"] == 400
    for name, block in metrics["policies"].items():
        assert block["mix"]["provider"]["aws"] == 1.0, name
        assert block["constraint_fixes"] == 0, name
        assert 0.0 <= block["infeasible_rate"] < 1.0
    oracle = metrics["policies"]["oracle"]["objective"]
    assert all(oracle <= m["objective"] + 1e-12 for m in metrics["policies"].values())
    assert "Where the calls ran" in (out / "report.md").read_text()


def test_simulate_names_an_unknown_region_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "--trace", TRACE, "--regions", "aws:us-east-11", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "did you mean" in result.output and "Traceback" not in result.output


def test_sensitivity_reports_a_winner_per_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = {"cpu_bound_fraction": Range(0.3, 0.9, "test range")}
    monkeypatch.setattr(model, "PARAMETER_RANGES", one)
    monkeypatch.setattr("skyroute.world.sensitivity.PARAMETER_RANGES", one)
    out = tmp_path / "sens"
    result = runner.invoke(
        app,
        ["world", "sensitivity", "--trace", TRACE, "--policy", "greedy,only-aws",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "sensitivity.json").read_text())
    assert [(r["parameter"], r["setting"]) for r in rows] == [
        ("defaults", "default"),
        ("cpu_bound_fraction", "low"),
        ("cpu_bound_fraction", "high"),
    ]
    for row in rows:
        assert row["winner"] == min(row["objective"], key=row["objective"].get)
    # More CPU-bound work gains more from CPU: the objectives move with the parameter.
    assert rows[1]["objective"]["only-aws"] != rows[2]["objective"]["only-aws"]
