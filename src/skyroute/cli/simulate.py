"""``skyroute simulate``: replay a trace under policies and compare them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from skyroute.cli._common import console, handle_errors

if TYPE_CHECKING:
    from skyroute.world.metrics import PolicyMetrics


@handle_errors
def simulate(
    trace: str = typer.Option(
        "default",
        "--trace",
        help="Trace SPEC, e.g. default, azure2019:DIR, synthetic:functions=300,days=2,seed=1.",
    ),
    policy: str = typer.Option(
        "all", "--policy", help="A policy name, a comma-separated list, or 'all'."
    ),
    out: Path = typer.Option(
        Path("out/simulate"), "--out", help="Directory for metrics.json, report.md and plots."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the simulator's random draws (and of trace expansion)."
    ),
    w_cost: float = typer.Option(0.4, "--w-cost", help="Weight of cost in the objective."),
    w_latency: float = typer.Option(0.4, "--w-latency", help="Weight of latency in the objective."),
    w_carbon: float = typer.Option(0.2, "--w-carbon", help="Weight of carbon in the objective."),
    max_latency_ms: float | None = typer.Option(
        None, "--max-latency-ms", help="Hard limit on each call's expected latency, ms."
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", help="Hard limit on each call's expected cost, USD."
    ),
    providers: str = typer.Option(
        "", "--providers", help="Allowed providers, comma-separated (e.g. aws,gcp)."
    ),
    regions: str = typer.Option(
        "",
        "--regions",
        help="Allowed regions, comma-separated (e.g. aws:eu-west-1,gcp:europe-west1).",
    ),
    latency_floor_ms: float = typer.Option(
        100.0, "--latency-floor-ms", help="Reference latencies below this count as this, ms."
    ),
    bundles: Path | None = typer.Option(
        None,
        "--bundles",
        help="Folder from `skyroute train hierarchy`: adds the learned 'hierarchical' policy.",
    ),
) -> None:
    """Replay a trace under one or all policies; write metrics.json, report.md and plots."""
    from skyroute.io import staged_output_dir
    from skyroute.report.simulation import write_comparison
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.compare import compare, resolve_policies
    from skyroute.world.model import build_world
    from skyroute.world.objective import Constraints, Objective, allowed_placements
    from skyroute.world.policies.bundled import LEARNED_POLICIES, learned_policies
    from skyroute.world.traces.spec import load_trace

    names = resolve_policies(policy, LEARNED_POLICIES if bundles is not None else ())
    constraints = Constraints(
        providers=_names(providers),
        regions=_names(regions),
        max_latency_ms=max_latency_ms,
        max_cost_usd=max_cost,
    )
    objective = Objective(
        cost=w_cost,
        latency=w_latency,
        carbon=w_carbon,
        constraints=constraints,
        latency_floor_ms=latency_floor_ms,
    )
    with console.status("loading catalog and trace"):
        catalog = load_catalog()
        loaded = load_trace(trace, seed=seed, known_regions=region_ids(catalog))
        world = build_world(catalog, origins=list(loaded.origin_names))
        allowed_placements(world, constraints)  # unknown names: "did you mean", before work
        learned = learned_policies(bundles, world.providers) if bundles is not None else {}
    with (
        staged_output_dir(out) as stage,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("simulating", total=len(names))

        def advance(name: str) -> None:
            progress.update(task, description=f"simulating {name}", completed=names.index(name))

        result = compare(loaded, trace, names, world, objective, seed, advance, learned)
        progress.update(task, completed=len(names))
        write_comparison(stage, result, objective)
    console.print(_table(result.metrics))
    console.print(f"wrote metrics.json, report.md and plots to [bold]{out}[/]")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _table(metrics: dict[str, PolicyMetrics]) -> Table:
    table = Table(
        title="Policies, best first (objective: 1.0 = reference placement; lower is better)"
    )
    headers = (
        "policy",
        "objective",
        "cost $",
        "mean ms",
        "short ms",
        "p99 ms",
        "CO2 g",
        "cold",
        "errors",
        "aws/az/gcp %",
        "fn/ct %",
        "spot",
    )
    for header in headers:
        table.add_column(header, justify="left" if header == "policy" else "right", no_wrap=True)
    for name, m in sorted(metrics.items(), key=lambda kv: kv[1]["objective"]):
        lat = m["latency_ms"]
        table.add_row(
            name,
            f"{m['objective']:.3f}",
            f"{m['cost_usd']:,.2f}",
            f"{lat['mean']:,.0f}",
            f"{lat['mean_short_calls']:,.0f}",
            f"{lat['p99']:,.0f}",
            f"{m['carbon_g']:,.0f}",
            f"{100 * m['cold_start_rate']:.1f}%",
            f"{100 * m['error_rate']:.2f}%",
            "/".join(f"{100 * v:.0f}" for v in m["mix"]["provider"].values()),
            "/".join(f"{100 * v:.0f}" for v in m["mix"]["platform"].values()),
            f"{100 * m['mix']['purchase']['spot']:.0f}%",
        )
    return table
