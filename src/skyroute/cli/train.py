"""`skyroute train hierarchy` and `skyroute evaluate`: learn placement policies, judge them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from skyroute.cli._common import console, handle_errors
from skyroute.learn.config import ROUTER_FAMILIES

app = typer.Typer(help="Train placement models and export them as bundles (docs/learn.md).")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )


def _reporter(progress: Progress) -> Callable[[str, int, int], None]:
    """A ``report(name, done, total)`` callback that keeps one bar per named stage."""
    tasks: dict[str, TaskID] = {}

    def report(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = progress.add_task(name, total=total)
        progress.update(tasks[name], completed=done)

    return report


@app.command()
@handle_errors
def hierarchy(
    trace: str = typer.Option("default", "--trace", help="Trace SPEC to train on."),
    out: Path = typer.Option(Path("out/hierarchy"), "--out", help="Directory for the bundles."),
    seed: int = typer.Option(0, "--seed"),
    samples: int = typer.Option(
        120_000, "--samples", help="Training calls whose every candidate outcome is computed."
    ),
    epochs: int = typer.Option(20, "--epochs", help="Epochs fitting the DQN and PPO networks."),
    dqn_steps: int = typer.Option(0, "--dqn-steps", help="On-line DQN fine-tuning env steps."),
    ppo_steps: int = typer.Option(0, "--ppo-steps", help="On-line MaskablePPO fine-tuning steps."),
    lstm_epochs: int = typer.Option(15, "--lstm-epochs", help="Forecaster epochs."),
    dqn_learning_rate: float = typer.Option(5e-4, "--dqn-learning-rate"),
    ppo_learning_rate: float = typer.Option(3e-4, "--ppo-learning-rate"),
    lstm_learning_rate: float = typer.Option(3e-3, "--lstm-learning-rate"),
    gamma: float = typer.Option(0.0, "--gamma", help="Discount of DQN and PPO (see docs)."),
) -> None:
    """Train LSTM (load) → PPO (candidate in a provider) → DQN (provider); three bundles."""
    from skyroute.io import staged_output_dir
    from skyroute.learn.config import HierarchyConfig
    from skyroute.learn.pipeline import train_hierarchy

    config = HierarchyConfig(
        trace=trace,
        seed=seed,
        samples=samples,
        epochs=epochs,
        dqn_steps=dqn_steps,
        ppo_steps=ppo_steps,
        lstm_epochs=lstm_epochs,
        dqn_learning_rate=dqn_learning_rate,
        ppo_learning_rate=ppo_learning_rate,
        lstm_learning_rate=lstm_learning_rate,
        gamma=gamma,
    )
    with staged_output_dir(out) as stage, _progress() as progress:
        report = _reporter(progress)
        summary = train_hierarchy(config, stage, report)
    console.print_json(json.dumps(summary))
    console.print(
        f"wrote bundles strategic/, tactical/, forecast/ and training.json to [bold]{out}[/]"
    )


@app.command()
@handle_errors
def router(
    trace: str = typer.Option("default", "--trace", help="Trace SPEC to train on."),
    out: Path = typer.Option(Path("out/router"), "--out", help="Directory for bundle and report."),
    seed: int = typer.Option(0, "--seed"),
    window_min: float = typer.Option(15.0, "--window-min", help="Minutes per routing window."),
    families: str = typer.Option(
        ",".join(ROUTER_FAMILIES), "--families", help="Comma-separated model families to train."
    ),
    max_rows: int | None = typer.Option(
        None, "--max-rows", help="At most N windows, from a seeded sample of functions."
    ),
) -> None:
    """Function vs container per function and window: the best family exported as a bundle."""
    from skyroute.io import staged_output_dir
    from skyroute.learn.config import RouterConfig, parse_families
    from skyroute.learn.router_pipeline import train_router

    config = RouterConfig(
        trace=trace, seed=seed, window_min=window_min, families=parse_families(families),
        max_rows=max_rows,
    )  # fmt: skip
    with staged_output_dir(out) as stage, _progress() as progress:
        report = _reporter(progress)
        summary = train_router(config, stage, report)
    console.print_json(json.dumps(summary))
    console.print(f"wrote router/, report.md, metrics.json and plots to [bold]{out}[/]")


dataset_app = typer.Typer(help="Datasets of features and counterfactual outcomes.")


@dataset_app.command("build")
@handle_errors
def dataset_build(
    trace: str = typer.Option("default", "--trace", help="Trace SPEC."),
    out: Path = typer.Option(Path("out/dataset"), "--out", help="Directory for dataset.parquet."),
    seed: int = typer.Option(0, "--seed"),
    window_min: float = typer.Option(15.0, "--window-min", help="Minutes per routing window."),
    max_rows: int | None = typer.Option(
        None, "--max-rows", help="At most N windows, from a seeded sample of functions."
    ),
) -> None:
    """Per function and window: features and the simulator's outcome of both platforms."""
    from skyroute.learn.config import check_max_rows, window_seconds
    from skyroute.learn.dataset import build_dataset, subsample_functions, write_dataset
    from skyroute.learn.pipeline import load
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.model import build_world

    window_seconds(window_min)
    if max_rows is not None:
        check_max_rows(max_rows)
    with console.status("simulating counterfactuals"):
        loaded = load(trace, seed)
        if max_rows is not None:
            loaded = subsample_functions(loaded, max_rows, window_min, seed)
        world = build_world(load_catalog(), origins=list(loaded.origin_names))
        data = build_dataset(loaded, world, seed, window_min)
        write_dataset(data, out)
    console.print(f"wrote {len(data.windows):,} rows to [bold]{out / 'dataset.parquet'}[/]")


@handle_errors
def evaluate(
    trace: str = typer.Option("default", "--trace", help="The trace the bundles trained on."),
    bundles: Path = typer.Option(Path("out/hierarchy"), "--bundles", help="From train hierarchy."),
    out: Path = typer.Option(Path("out/evaluate"), "--out", help="Directory for the reports."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Learned policy vs every baseline and the oracle on held-out hours and functions."""
    from skyroute.io import staged_output_dir
    from skyroute.learn.pipeline import evaluate_hierarchy

    with staged_output_dir(out) as stage, console.status("simulating held-out data"):
        summary = evaluate_hierarchy(trace, bundles, stage, seed)
    console.print_json(json.dumps(summary))
    console.print(f"wrote held-out-hours/ and held-out-functions/ reports to [bold]{out}[/]")


@app.command()
@handle_errors
def spot(
    out: Path = typer.Option(Path("out/spot"), "--out", help="Directory for bundles and report."),
    seed: int = typer.Option(0, "--seed"),
    days: int = typer.Option(90, "--days", help="Days of simulated launches (at least 14)."),
    until: str = typer.Option("", "--until", help="Last day, YYYY-MM-DD [default: yesterday]."),
    pools: int = typer.Option(1000, "--pools", help="Spot Advisor pools simulated."),
    rounds: int = typer.Option(200, "--rounds", help="Boosting rounds, interruption model."),
    price_rounds: int = typer.Option(300, "--price-rounds", help="Boosting rounds, price model."),
) -> None:
    """Spot interruption probability (24 h) and price forecast: two bundles and report.json."""
    from skyroute.io import staged_output_dir
    from skyroute.learn.spot import train_spot
    from skyroute.learn.spot_data import SpotConfig, parse_until
    from skyroute.learn.spot_report import summary_table

    config = SpotConfig(
        until=parse_until(until), seed=seed, days=days, pools=pools, rounds=rounds,
        price_rounds=price_rounds,
    )  # fmt: skip
    with staged_output_dir(out) as stage, _progress() as progress:
        report = _reporter(progress)
        run = train_spot(config, stage, report)
    console.print(summary_table(run.summary))
    console.print(f"wrote spot-interruption/, spot-price/, report.json and plots to [bold]{out}[/]")
