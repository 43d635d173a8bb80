"""The sweep engine with a fast fake trainer: phases feed each other, winners keep their rule,
the MLflow store makes reruns and interrupted sweeps resume, failures stay in their run."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from skyroute.experiments import tracking
from skyroute.experiments.engine import Options, SweepFailed, read_sweep, run_sweep, tracker_for
from skyroute.experiments.executors import ExecutorError
from skyroute.experiments.sweep import Sweep, load_sweep
from skyroute.experiments.tracking import TrackingError

SWEEP = """\
name: fake-study
trainer: fake_trainer:TRAINER
seed: 3
base: {{y: 1}}
phases:
  - name: first
    grid: {{x: [0.1, 0.3, 0.5, 0.9]}}
    select: {{maximize: score, where: ["aux <= 0.6"]}}
  - name: second
    grid: {{y: [1, 2, 3]{extra}}}
    select: {{maximize: score}}
"""


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def options(tmp_path: Path, **kwargs: Any) -> Options:
    return Options(
        scale="tiny", jobs=2, out=tmp_path / "out", mlflow_dir=tmp_path / "mlflow",
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", **kwargs,
    )  # fmt: skip


def finished_runs(sweep: Sweep, opts: Options) -> list[Any]:
    tracker = tracker_for(sweep, opts)
    return list(
        tracker.client.search_runs([tracker.experiment_id], "attributes.status = 'FINISHED'")
    )


def test_phases_feed_their_winner_forward_and_a_rerun_runs_nothing(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    opts = options(tmp_path)
    outcome = run_sweep(sweep, opts)
    first, second = outcome.phases
    assert first.winner is not None and first.winner.params["x"] == 0.3
    assert all(r.params["x"] == 0.3 for r in second.runs)  # the winner is the next base
    assert second.winner is not None and second.winner.params["y"] == 3
    assert outcome.executed == 7 and outcome.skipped == 0
    runs = finished_runs(sweep, opts)
    assert len(runs) == 7
    winners = [r for r in runs if r.data.tags.get("skyroute.winner") == "true"]
    assert {r.info.run_name for r in winners} == {first.winner.name, second.winner.name}
    one = next(r for r in runs if r.info.run_name == first.winner.name)
    assert one.data.params["x"] == "0.3" and one.data.tags["skyroute.phase"] == "first"
    loss = tracker_for(sweep, opts).client.get_metric_history(one.info.run_id, "loss")
    assert [m.step for m in sorted(loss, key=lambda m: m.step)] == [0, 1, 2]  # 2 epochs + final
    assert (opts.out / "fake-study" / "runs" / first.winner.name / "plots" / "curve.txt").is_file()

    again = run_sweep(sweep, opts)
    assert again.executed == 0 and again.skipped == 7
    assert again.champion is not None and again.champion.name == outcome.champion.name  # type: ignore[union-attr]
    assert again.champion.metrics == outcome.champion.metrics  # type: ignore[union-attr]


def test_an_interrupted_sweep_resumes_with_only_the_missing_runs(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    opts = options(tmp_path)

    class Kill:
        def phase_started(self, phase: str, runs: int, finished: int) -> None:
            if phase == "second":
                raise KeyboardInterrupt  # killed between the phases

        def run_done(self, outcome: Any) -> None: ...

        def phase_done(self, outcome: Any) -> None: ...

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, opts, Kill())
    assert len(finished_runs(sweep, opts)) == 4
    status = read_sweep(sweep, opts)
    assert [p.name for p in status.phases] == ["first"]
    resumed = run_sweep(sweep, opts)
    assert resumed.executed == 3 and resumed.skipped == 4


def test_a_failing_or_nan_run_fails_alone_and_is_reported(tmp_path: Path) -> None:
    text = SWEEP.format(extra="").replace(
        "grid: {y: [1, 2, 3]}",
        "runs: [{y: 1}, {y: 2, fail: true}, {y: 5, nan: true}]",
    )
    sweep = load_sweep(write(tmp_path, text))
    outcome = run_sweep(sweep, options(tmp_path))
    second = outcome.phases[1]
    failed = {r.params["y"]: r.reason for r in second.runs if r.status == "failed"}
    assert "told to fail" in str(failed[2]) and "non-finite score" in str(failed[5])
    assert second.winner is not None and second.winner.params["y"] == 1


def test_a_rule_no_run_meets_stops_the_sweep_naming_the_closest_run(tmp_path: Path) -> None:
    text = SWEEP.format(extra="").replace('where: ["aux <= 0.6"]', 'where: ["aux >= 2"]')
    sweep = load_sweep(write(tmp_path, text))
    with pytest.raises(SweepFailed) as failed:
        run_sweep(sweep, options(tmp_path))
    message = str(failed.value)
    assert "no run meets 'max score where aux >= 2'" in message
    closest = failed.value.outcome.phases[0].runs[3]  # x = 0.9 is the nearest to 2
    assert closest.name in message and "aux = 0.9, needs >= 2" in message


def test_a_full_disk_fails_the_run_instead_of_half_recording_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    opts = options(tmp_path)

    def full(*_: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tracking, "_write_files", full)
    with pytest.raises(SweepFailed):
        run_sweep(sweep, opts)
    tracker = tracker_for(sweep, opts)
    runs = tracker.client.search_runs([tracker.experiment_id])
    assert {r.info.status for r in runs} == {"FAILED"}
    assert all("No space left" in r.data.tags["skyroute.reason"] for r in runs)
    monkeypatch.undo()
    assert run_sweep(sweep, opts).executed == 7  # nothing was taken for finished


def test_unreachable_tracking_or_ray_start_nothing(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    bad_tracking = options(tmp_path).__class__(
        scale="tiny", out=tmp_path / "out", tracking_uri="http://127.0.0.1:9"
    )
    with pytest.raises(TrackingError, match="does not answer"):
        run_sweep(sweep, bad_tracking)
    with pytest.raises(ExecutorError, match=r"no Ray cluster answers at 127\.0\.0\.1:9"):
        run_sweep(sweep, options(tmp_path, executor="ray", ray_address="127.0.0.1:9"))
    assert not (tmp_path / "out").exists()


def test_ray_gives_the_same_winners_and_metrics_as_local_processes(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    local = run_sweep(sweep, options(tmp_path / "local"))
    on_ray = run_sweep(sweep, options(tmp_path / "ray", executor="ray"))
    for a, b in zip(local.phases, on_ray.phases, strict=True):
        assert a.winner is not None and b.winner is not None
        assert a.winner.name == b.winner.name
        assert [r.metrics for r in a.runs] == [r.metrics for r in b.runs]


def test_a_sweep_tracked_on_an_mlflow_server_backed_by_postgresql_resumes(
    tmp_path: Path, mlflow_pg_server: str
) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP.format(extra="")))
    opts = Options(scale="tiny", jobs=2, out=tmp_path / "out", tracking_uri=mlflow_pg_server)
    outcome = run_sweep(sweep, opts)
    assert outcome.executed == 7
    assert len(finished_runs(sweep, opts)) == 7
    again = run_sweep(sweep, opts)
    assert again.executed == 0 and again.champion.name == outcome.champion.name  # type: ignore[union-attr]
