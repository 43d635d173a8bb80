"""`skyroute sweep run|status|report` end to end with the fake trainer: report, champion in the
MLflow registry (the PostgreSQL-backed server too), upload to a server, webhook, Pushgateway."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from apiclient import http_tenant
from skyroute.cli.main import app

SWEEP = """\
name: cli-study
trainer: fake_trainer:TRAINER
base: {bundle: true}
phases:
  - name: first
    grid: {x: [0.1, 0.3]}
    select: {maximize: score, where: ["aux <= 0.6"]}
  - name: second
    grid: {y: [1, 2]}
    select: {maximize: score}
"""


def test_run_reports_registers_uploads_and_notifies(
    tmp_path: Path, server: str, webhook_receiver: object, pushgateway: str
) -> None:
    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP)
    key = http_tenant(server, "sweeps")
    common = [
        "--scale",
        "tiny",
        "--out",
        str(tmp_path / "out"),
        "--mlflow-dir",
        str(tmp_path / "ml"),
    ]
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["sweep", "run", str(sweep), *common, "--jobs", "2", "--promote-to", server,
         "--promote-key", key, "--webhook", webhook_receiver.url,  # type: ignore[attr-defined]
         "--pushgateway", pushgateway],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 runs executed, 0 finished before" in result.output
    assert "registered as cli-study v1 (alias champion)" in result.output
    report = tmp_path / "out" / "cli-study" / "report" / "report.md"
    assert report.is_file() and "**winner**" in report.read_text()
    models = httpx.get(
        f"{server}/api/v1/ml/models/list", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert [(m["model_id"], m["version"], m["active"]) for m in models] == [
        ("cli-study", "1", True)
    ]
    assert "cli-study" in webhook_receiver.bodies[0]["text"]  # type: ignore[attr-defined]
    assert "skyroute_sweep_score" in httpx.get(f"{pushgateway}/metrics").text

    again = runner.invoke(app, ["sweep", "run", str(sweep), *common])
    assert again.exit_code == 0, again.output
    assert "0 runs executed, 4 finished before" in again.output
    status = runner.invoke(app, ["sweep", "status", str(sweep), *common])
    assert status.exit_code == 0 and status.output.count("finished") == 4
    rebuilt = runner.invoke(app, ["sweep", "report", str(sweep), *common])
    assert rebuilt.exit_code == 0 and "report.md" in rebuilt.output


def test_bad_input_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP.replace("grid: {y: [1, 2]}", "grdi: {y: [1, 2]}"))
    runner = CliRunner()
    out = ["--out", str(tmp_path / "out"), "--mlflow-dir", str(tmp_path / "ml")]
    result = runner.invoke(app, ["sweep", "run", str(sweep), *out])
    assert result.exit_code == 1
    assert f"{sweep}:9: unknown key 'grdi'" in result.output
    assert "did you mean 'grid'" in result.output and "Traceback" not in result.output
    sweep.write_text(SWEEP)
    unreachable = runner.invoke(
        app, ["sweep", "run", str(sweep), *out, "--tracking-uri", "http://127.0.0.1:9"]
    )
    assert unreachable.exit_code == 1 and "does not answer" in unreachable.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "ml").exists()
