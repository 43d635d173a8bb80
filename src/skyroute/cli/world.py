"""``skyroute world sensitivity``: which policy wins across each assumption's range."""

from __future__ import annotations

from pathlib import Path

import typer

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Inspect the world model's assumptions.")


@app.command()
@handle_errors
def sensitivity(
    trace: str = typer.Option(
        "synthetic:functions=200,days=1,seed=1", "--trace", help="Trace SPEC to replay."
    ),
    policy: str = typer.Option(
        "greedy,only-aws,only-azure,only-gcp,cheapest,nearest",
        "--policy",
        help="Comma-separated policies to compare (the oracle is a bound, not a contender).",
    ),
    out: Path = typer.Option(
        Path("out/sensitivity"), "--out", help="Directory for sensitivity.json and .md."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulator's draws."),
) -> None:
    """Move every uncertain world parameter to its low and high end and report the winner."""
    import json

    from rich.progress import Progress

    from skyroute.io import staged_output_dir
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.compare import resolve_policies
    from skyroute.world.model import PARAMETER_RANGES
    from skyroute.world.objective import Objective
    from skyroute.world.sensitivity import markdown
    from skyroute.world.sensitivity import sensitivity as run
    from skyroute.world.traces.spec import load_trace

    names = resolve_policies(policy)
    catalog = load_catalog()
    loaded = load_trace(trace, seed=seed, known_regions=region_ids(catalog))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("sensitivity", total=1 + 2 * len(PARAMETER_RANGES))

        def step(label: str) -> None:
            progress.update(task, advance=1, description=label)

        rows = run(catalog, loaded, names, Objective(), seed, step)
    table = markdown(rows, names)
    with staged_output_dir(out) as stage:
        (stage / "sensitivity.json").write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
        ranges = "\n".join(
            f"- `{k}`: {v.low:g} to {v.high:g} ({v.source})" for k, v in PARAMETER_RANGES.items()
        )
        header = f"# World sensitivity\n\nTrace `{trace}`, seed {seed}.\n\n"
        (stage / "sensitivity.md").write_text(f"{header}{table}\nRanges:\n\n{ranges}\n", "utf-8")
    console.print(table)
    console.print(f"wrote sensitivity.json and sensitivity.md to [bold]{out}[/]")
