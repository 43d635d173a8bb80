"""`skyroute autoscale simulate`: reactive against predictive scaling on a trace's load."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

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
) -> None:
    """Replay the trace's held-out minutes under both scalers; print and write the figures."""
    from skyroute.autoscale.replay import plot, replay, replica_price_per_minute
    from skyroute.autoscale.scaling import Service
    from skyroute.bundles.forecaster import Forecaster
    from skyroute.learn.forecast import minute_counts
    from skyroute.learn.pipeline import load

    forecaster = Forecaster.from_bundle(bundles / "forecast")
    loaded = load(trace, seed)
    capacity = concurrency * 60_000.0 / float(loaded.duration_ms.mean())
    service = Service(capacity, target, startup, cooldown, lookahead)
    price = replica_price_per_minute(vcpu, memory_gb)
    result = replay(minute_counts(loaded).astype(float), forecaster, service, holdout, price)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary() | {"trace": trace, "bundles": str(bundles)}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(result, out / "autoscale.png")
    table = Table("scaler", "SLO-violation minutes", "late calls", "replica-minutes", "cost (USD)")
    for name in ("reactive", "predictive"):
        s = summary[name]
        table.add_row(
            name, str(s["slo_violation_minutes"]), f"{100 * s['late_calls_share']:.2f} %",
            str(s["replica_minutes"]), f"{s['cost_usd']:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"{summary['minutes']} minutes replayed, a replica serves {capacity:.1f} calls/min; "
        f"wrote metrics.json and autoscale.png to {out}",
        soft_wrap=True,
    )
