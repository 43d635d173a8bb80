"""Issue 13's acceptance: the bundled seed study at tiny scale, end to end, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyroute.cli.main import app

STUDY = Path(__file__).resolve().parents[2] / "examples" / "sweeps" / "lstm-burst.yaml"


@pytest.mark.slow
def test_the_seed_study_runs_picks_constrained_winners_and_promotes_its_champion(
    tmp_path: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    args = ["sweep", "run", str(STUDY), "--scale", "tiny", "--jobs", "2",
            "--out", str(tmp_path / "out"), "--mlflow-dir", str(tmp_path / "ml")]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "15 runs executed, 0 finished before" in first.output

    client = MlflowClient(f"sqlite:///{(tmp_path / 'ml' / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("lstm-burst")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 15 and {r.info.status for r in runs} == {"FINISHED"}
    winners = [r for r in runs if r.data.tags.get("skyroute.winner") == "true"]
    assert sorted(r.data.tags["skyroute.phase"] for r in winners) == [
        "architecture", "augmentation", "pretraining",
    ]  # fmt: skip
    assert all(r.data.metrics["class_1_accuracy"] >= 0.30 for r in winners)

    champion = client.get_model_version_by_alias("lstm-burst", "champion")
    pretraining = next(r for r in winners if r.data.tags["skyroute.phase"] == "pretraining")
    assert champion.run_id == pretraining.info.run_id
    bundle = tmp_path / "out" / "lstm-burst" / "runs" / pretraining.info.run_name / "bundle"
    verified = runner.invoke(app, ["bundle", "verify", str(bundle)])
    assert verified.exit_code == 0 and "classifier.burst" in verified.output
    report = tmp_path / "out" / "lstm-burst" / "report"
    assert (report / "report.md").is_file() and len(list(report.glob("*.png"))) == 4

    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 runs executed, 15 finished before" in again.output
