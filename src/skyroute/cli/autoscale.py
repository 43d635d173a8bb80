"""`skyroute autoscale simulate`: reactive against predictive scaling on a trace's load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors
from skyroute.errors import ConfigError

app = typer.Typer(help="Predictive autoscaling from the load forecaster (docs/deploy.md).")


@app.command()
@handle_errors
def simulate(
    trace: str = typer.Option("default", "--trace", help="Trace SPEC (see `skyroute trace`)."),
    bundles: Path = typer.Option(..., "--bundles", help="Holds forecast/ (train hierarchy)."),
    out: Path = typer.Option(Path("out/autoscale"), "--out", help="metrics.json and the plot."),
    holdout: float = typer.Option(0.25, "--holdout", help="Share of minutes replayed (the end)."),
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, help="Calls one replica runs at once."
    ),
    target: float = typer.Option(0.7, "--target", min=0.05, max=1.0, help="Utilisation target."),
    startup: int = typer.Option(2, "--startup", min=0, help="Minutes until a new replica serves."),
    cooldown: int = typer.Option(5, "--cooldown", min=1, help="Scale-down stabilisation, minutes."),
    lookahead: int = typer.Option(
        0, "--lookahead", min=0, max=11, help="Predictive: minutes past readiness provisioned."
    ),
    vcpu: float = typer.Option(1.0, "--vcpu", help="vCPUs of a replica (Fargate price)."),
    memory_gb: float = typer.Option(2.0, "--memory-gb", help="GB of a replica (Fargate price)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the trace expansion."),
    targets: str = typer.Option(
        "0.5:1.0:0.025", "--targets", help="Targets compared at equal spend (START:STOP:STEP)."
    ),
) -> None:
    """Replay the trace's held-out minutes under both scalers at --target, then over --targets
    at equal spend; print and write the figures."""
    from skyroute.autoscale import frontier
    from skyroute.autoscale.replay import plot, replay, replica_price_per_minute
    from skyroute.autoscale.scaling import Service
    from skyroute.bundles.forecaster import HORIZON, Forecaster
    from skyroute.learn.forecast import minute_counts
    from skyroute.learn.pipeline import load

    if startup + lookahead > HORIZON - 1:
        raise ConfigError(
            f"--startup {startup} + --lookahead {lookahead} reach past the forecast's "
            f"{HORIZON} minutes",
            f"keep --startup + --lookahead <= {HORIZON - 1}",
        )
    sweep_targets = frontier.parse_targets(targets)
    forecaster = Forecaster.from_bundle(bundles / "forecast")
    loaded = load(trace, seed)
    capacity = concurrency * 60_000.0 / float(loaded.duration_ms.mean())
    service = Service(capacity, target, startup, cooldown, lookahead)
    price = replica_price_per_minute(vcpu, memory_gb)
    result = replay(minute_counts(loaded).astype(float), forecaster, service, holdout, price)
    runs = frontier.sweep(result.load, result.forecast, service, sweep_targets, price)
    found = frontier.matches(runs)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary() | {"trace": trace, "bundles": str(bundles)}
    summary["equal_spend"] = {
        "targets": sweep_targets,
        "tally": frontier.tally(found),
        "matches": [m.as_dict() for m in found],
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(result, out / "autoscale.png")
    frontier.plot(runs, out / "frontier.png")
    table = Table("scaler", "SLO-violation minutes", "late calls", "replica-minutes", "cost (USD)")
    for name in ("reactive", "predictive"):
        s = summary[name]
        table.add_row(
            name, str(s["slo_violation_minutes"]), f"{100 * s['late_calls_share']:.2f} %",
            str(s["replica_minutes"]), f"{s['cost_usd']:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(_equal_spend_table(found))
    tally = frontier.tally(found)
    console.print(
        f"{summary['minutes']} minutes replayed, a replica serves {capacity:.1f} calls/min. "
        f"At equal spend, predictive has fewer violating minutes at {tally['fewer']} of "
        f"{len(found)} targets, ties at {tally['tie']}, more at {tally['more']}. "
        f"Wrote metrics.json, autoscale.png and frontier.png to {out}",
        soft_wrap=True,
    )


def _equal_spend_table(found: list[Any]) -> Table:
    table = Table(
        "predictive target", "violations", "late", "replica-min",
        "best reactive on no more", "violations", "late", "replica-min", "",
        title="Equal spend: each predictive run against the best reactive run costing no more",
    )  # fmt: skip
    for match in found:
        reactive = ["-", "", "", ""] if match.reactive is None else _cells(match.reactive)
        table.add_row(*_cells(match.predictive), *reactive, match.verdict)
    return table


def _cells(run: Any) -> list[str]:
    s = run.score
    late = f"{100 * s.late_calls_share:.2f} %"
    return [f"{run.target:g}", str(s.slo_violation_minutes), late, str(s.replica_minutes)]
