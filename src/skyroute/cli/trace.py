"""`skyroute trace info|generate|convert`: inspect, make and convert invocation traces."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Inspect, generate and convert invocation traces (see docs/traces.md).")

SEED_OPTION = typer.Option(0, "--seed", help="Seed of the draws made while loading.")


def _load(spec: str, seed: int):  # type: ignore[no-untyped-def]
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.traces.spec import load_trace

    with console.status(f"loading {spec}"):
        return load_trace(spec, seed=seed, known_regions=region_ids(load_catalog()))


@app.command()
@handle_errors
def info(
    spec: str = typer.Argument(..., help="Trace spec, e.g. default or azure2019:DIR."),
    seed: int = SEED_OPTION,
) -> None:
    """Counts and calibration statistics of a trace."""
    from skyroute.world.traces.stats import summarise

    trace = _load(spec, seed)
    table = Table(title=f"Trace {spec}")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in summarise(trace).items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    if "citation" in trace.meta:
        console.print(f"[dim]{trace.meta['citation']}[/]")


@app.command()
@handle_errors
def generate(
    out: Path = typer.Option(..., "--out", help="File to write (*.csv or *.parquet)."),
    functions: int = typer.Option(100, "--functions", help="Number of functions."),
    days: int = typer.Option(1, "--days", help="Number of days."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generator."),
) -> None:
    """Write a synthetic trace calibrated to the Azure 2019 statistics."""
    from skyroute.world.traces.spec import save_trace

    trace = _load(f"synthetic:functions={functions},days={days},seed={seed}", seed)
    save_trace(trace, out)
    console.print(f"wrote {len(trace):,} invocations to [bold]{out}[/]")


@app.command()
@handle_errors
def convert(
    spec: str = typer.Argument(..., help="Trace spec to read, e.g. azure2019:DIR."),
    out: Path = typer.Option(..., "--out", help="File to write (*.csv or *.parquet)."),
    seed: int = SEED_OPTION,
) -> None:
    """Convert any trace into our own schema (CSV or Parquet)."""
    from skyroute.world.traces.spec import save_trace

    trace = _load(spec, seed)
    save_trace(trace, out)
    console.print(f"wrote {len(trace):,} invocations to [bold]{out}[/]")
