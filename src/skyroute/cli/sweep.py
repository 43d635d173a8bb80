"""`skyroute sweep run|status|report`: phased sweeps (docs/experiments.md)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from skyroute.cli._common import console, err_console, handle_errors, state

app = typer.Typer(help="Phased sweeps with constraint-based winners (docs/experiments.md).")

SCALE = typer.Option("full", "--scale", help="tiny: small data and few epochs (CI); full.")
TRACKING = typer.Option(
    None, "--tracking-uri", help="MLflow store (default: MLFLOW_TRACKING_URI or out/mlflow)."
)
OUT = typer.Option(Path("out/sweeps"), "--out", help="Where runs' files and reports go.")
MLFLOW_DIR = typer.Option(Path("out/mlflow"), "--mlflow-dir", help="The local MLflow store.")


class _Bars:
    """Progress bars: the phases, and the runs of the current phase."""

    def __init__(self, progress: Progress, phases: int) -> None:
        self.progress = progress
        self.phases = progress.add_task("phases", total=phases)
        self.runs: Any = None

    def phase_started(self, phase: str, runs: int, finished: int) -> None:
        if self.runs is not None:
            self.progress.remove_task(self.runs)
        label = f"phase {phase}" + (f" ({finished} finished before)" if finished else "")
        self.runs = self.progress.add_task(label, total=runs, completed=finished)

    def run_done(self, outcome: Any) -> None:
        self.progress.advance(self.runs)
        if outcome.status == "failed":
            self.progress.console.print(
                f"[yellow]run {outcome.name} failed:[/] {outcome.reason}", soft_wrap=True
            )

    def phase_done(self, outcome: Any) -> None:
        self.progress.advance(self.phases)
        winner = outcome.winner
        if winner is not None:
            shown = ", ".join(f"{k}={winner.params[k]}" for k in outcome.varied)
            self.progress.console.print(
                f"phase {outcome.name}: winner {winner.name} ({shown}; "
                f"{outcome.objective} {winner.metrics[outcome.objective]:.4f})",
                soft_wrap=True,
            )


def _options(**kwargs: Any) -> Any:
    from skyroute.experiments.engine import Options

    return Options(**{k: v for k, v in kwargs.items() if v is not None})


@app.command()
@handle_errors
def run(
    file: Path = typer.Argument(..., help="The sweep file (YAML)."),
    scale: str = SCALE,
    executor: str = typer.Option("local", "--executor", help="local (processes) or ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="A Ray cluster."),
    tracking_uri: str | None = TRACKING,
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help="Runs at once."),
    out: Path = OUT,
    mlflow_dir: Path = MLFLOW_DIR,
    model_name: str | None = typer.Option(None, "--model-name", help="Registry name."),
    promote_to: str | None = typer.Option(None, "--promote-to", help="A SkyRoute server URL."),
    promote_key: str | None = typer.Option(
        None, "--promote-key", envvar="SKYROUTE_API_KEY", help="Its tenant API key."
    ),
    webhook: str | None = typer.Option(None, "--webhook", help="Slack-compatible webhook."),
    pushgateway: str | None = typer.Option(None, "--pushgateway", help="Pushgateway URL."),
) -> None:
    """Run what is missing of a sweep, then report and promote its champion."""
    from skyroute.experiments.engine import SweepFailed, run_sweep, tracker_for
    from skyroute.experiments.sweep import load_sweep

    _choice("--scale", scale, ("tiny", "full"))
    _choice("--executor", executor, ("local", "ray"))
    _choice("--device", device, ("cpu", "cuda"))
    sweep = load_sweep(file)
    options = _options(
        scale=scale, executor=executor, ray_address=ray_address, tracking_uri=tracking_uri,
        device=device, jobs=jobs, out=out, mlflow_dir=mlflow_dir,
    )  # fmt: skip
    _quiet_mlflow()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err_console) as progress:
        bars = _Bars(progress, len(sweep.phases))
        try:
            outcome = run_sweep(sweep, options, bars)
        except SweepFailed as failed:
            _report(failed.outcome, options)
            raise
        except KeyboardInterrupt:
            err_console.print(
                "interrupted: the finished runs are kept; run the same command again to resume"
            )
            raise typer.Exit(code=130) from None
    console.print(
        f"{sweep.name}: {outcome.executed} runs executed, {outcome.skipped} finished before"
    )
    report = _report(outcome, options)
    from skyroute.experiments import notify, promote

    uri = tracker_for(sweep, options).uri
    name = model_name or sweep.name
    champion = outcome.champion
    assert champion is not None  # run_sweep raised SweepFailed otherwise
    version = promote.register_champion(outcome, uri, name)  # verifies its bundle first
    console.print(
        f"champion {champion.name}: registered as {name} v{version} (alias champion)",
        soft_wrap=True,
    )
    console.print(f"report: {report}", soft_wrap=True)
    if promote_to is not None:
        if not promote_key:
            raise typer.BadParameter("--promote-to needs --promote-key (or SKYROUTE_API_KEY)")
        bundle = champion.bundle_dir or promote.fetch_champion_bundle(
            outcome, uri, options.out / sweep.name / "champion"
        )
        promote.upload_to_server(bundle, promote_to, promote_key, name, version)
        console.print(f"uploaded {name} {version} to {promote_to} and activated it")
    if webhook is not None:
        notify.post_webhook(webhook, outcome)
    if pushgateway is not None:
        notify.push_metrics(pushgateway, outcome)


@app.command()
@handle_errors
def status(
    file: Path = typer.Argument(..., help="The sweep file (YAML)."),
    scale: str = SCALE,
    tracking_uri: str | None = TRACKING,
    out: Path = OUT,
    mlflow_dir: Path = MLFLOW_DIR,
) -> None:
    """Every phase's runs as the tracking store has them (nothing runs)."""
    sweep, _, outcome = _stored(file, scale, tracking_uri, out, mlflow_dir)
    table = Table("phase", "run", "status", "varied", "objective", "winner")
    for phase in outcome.phases:
        for run in phase.runs:
            varied = ", ".join(f"{k}={run.params.get(k)}" for k in phase.varied)
            value = run.metrics.get(phase.objective)
            shown = f"{value:.4f}" if value is not None else (run.reason or "")
            table.add_row(
                phase.name, run.name, run.status, varied, shown,
                "yes" if phase.winner is not None and phase.winner.name == run.name else "",
            )  # fmt: skip
    done = {p.name for p in outcome.phases}
    for planned in sweep.phases:
        if planned.name not in done:
            table.add_row(planned.name, "", f"{len(planned.points)} runs to go", "", "", "")
    console.print(table)


@app.command()
@handle_errors
def report(
    file: Path = typer.Argument(..., help="The sweep file (YAML)."),
    scale: str = SCALE,
    tracking_uri: str | None = TRACKING,
    out: Path = OUT,
    mlflow_dir: Path = MLFLOW_DIR,
) -> None:
    """Write the comparison report from the tracking store (nothing runs)."""
    _, options, outcome = _stored(file, scale, tracking_uri, out, mlflow_dir)
    console.print(f"wrote {_report(outcome, options)}", soft_wrap=True)


def _stored(
    file: Path, scale: str, tracking_uri: str | None, out: Path, mlflow_dir: Path
) -> tuple[Any, Any, Any]:
    """(sweep, options, outcome) as the tracking store has them, for status and report."""
    from skyroute.experiments.engine import read_sweep
    from skyroute.experiments.sweep import load_sweep

    _choice("--scale", scale, ("tiny", "full"))
    _quiet_mlflow()
    sweep = load_sweep(file)
    options = _options(scale=scale, tracking_uri=tracking_uri, out=out, mlflow_dir=mlflow_dir)
    return sweep, options, read_sweep(sweep, options)


def _report(outcome: Any, options: Any) -> Path:
    from skyroute.experiments.report import write_report

    path: Path = write_report(outcome, options.out / outcome.sweep / "report")
    return path


def _quiet_mlflow() -> None:
    """MLflow's start-up notes and download bars are noise here (shown with --debug)."""
    if not state.debug:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        logging.getLogger("mlflow").setLevel(logging.WARNING)


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise typer.BadParameter(f"{option} {value!r}: use one of {', '.join(allowed)}")
