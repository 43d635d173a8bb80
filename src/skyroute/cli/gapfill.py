"""`skyroute gapfill analyze|fill|status|worker`: the gap filler from the command line.

The commands work on the decision server's database (SKYROUTE_DATABASE_URL, or the SQLite
file under SKYROUTE_DATA_DIR), so a fill started here is seen by the server and vice versa.
Jobs started here belong to the operator, not to a tenant.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Fill market data since a model's trained_until (docs/gapfill.md).")

DATABASE = typer.Option(None, "--database-url", help="Default: the server's database.")
INSTANCE_TYPES = typer.Option(None, "--instance-type", "-i", help="Repeat for several.")
REGIONS = typer.Option(None, "--region", "-r", help="Repeat for several.")
DATA_TYPES = typer.Option(None, "--data-type", help="spot_price, ondemand_price or carbon.")


def _open(database_url: str | None) -> Any:
    """(settings, sessionmaker) for the server's database, migrated to head."""
    from skyroute.serve.db import make_engine, migrate, session_factory
    from skyroute.serve.settings import Settings

    settings = Settings.from_env()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings.db_url)
    migrate(engine)
    return settings, session_factory(engine)


def _trained_until(bundle: Path | None, trained_until: str | None) -> tuple[date | None, str]:
    if bundle is not None:
        from skyroute.bundles import read_bundle

        manifest = read_bundle(bundle).manifest
        return date.fromisoformat(manifest.trained_until[:10]), manifest.kind
    return (date.fromisoformat(trained_until) if trained_until else None), ""


@app.command()
@handle_errors
def analyze(
    bundle: Path | None = typer.Option(None, "--bundle", help="Read trained_until from it."),
    trained_until: str | None = typer.Option(None, "--trained-until", help="YYYY-MM-DD."),
    instance_types: list[str] | None = INSTANCE_TYPES,
    regions: list[str] | None = REGIONS,
    data_types: list[str] | None = DATA_TYPES,
    database_url: str | None = DATABASE,
) -> None:
    """How many days of market data a model misses, and what the store already has."""
    from rich.table import Table

    from skyroute.gapfill.plan import REQUIRED_DATA_TYPES
    from skyroute.gapfill.service import AnalyzeIn
    from skyroute.gapfill.service import analyze as run

    until, kind = _trained_until(bundle, trained_until)
    settings, sessions = _open(database_url)
    body = AnalyzeIn(
        trained_until=until,
        instance_types=instance_types or None,
        regions=regions or None,
        data_types=data_types or list(REQUIRED_DATA_TYPES.get(kind, ())) or None,
    )
    with sessions() as session:
        report = run(session, settings, None, body)
    console.print(
        f"trained until {report['trained_until']}, today {report['current_date']}: "
        f"gap of {report['gap_days']} days; needs {', '.join(report['required_data_types'])}"
    )
    table = Table("series", "hours present", "coverage", "fresh until")
    for row in report["coverage"]:
        table.add_row(
            row["series"],
            f"{row['hours_present']}/{row['hours_expected']}",
            f"{row['coverage']:.0%}",
            str(row["fresh_until"] or "-"),
        )
    console.print(table)


@app.command()
@handle_errors
def fill(
    start: str | None = typer.Option(None, "--start", help="First day (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Last day, inclusive (default today)."),
    bundle: Path | None = typer.Option(None, "--bundle", help="Start after its trained_until."),
    instance_types: list[str] | None = INSTANCE_TYPES,
    regions: list[str] | None = REGIONS,
    data_types: list[str] | None = DATA_TYPES,
    source: str = typer.Option("auto", "--source", help="aws, embedded, synthetic or auto."),
    fallback: bool = typer.Option(False, "--fallback", help="Synthetic where the source fails."),
    detach: bool = typer.Option(False, "--detach", help="Only queue the job; a worker fills."),
    database_url: str | None = DATABASE,
) -> None:
    """Queue a fill job and (unless --detach) fill it here with a progress bar."""

    from skyroute.gapfill import jobs
    from skyroute.gapfill.service import FillIn, start_fill
    from skyroute.gapfill.worker import Worker, default_sources

    until, _ = _trained_until(bundle, None)
    settings, sessions = _open(database_url)
    body = FillIn(
        start=date.fromisoformat(start) if start else None,
        trained_until=until,
        end=date.fromisoformat(end) if end else None,
        instance_types=instance_types or None,
        regions=regions or None,
        data_types=data_types or None,
        source=source,
        fallback=fallback,
    )
    with sessions() as session:
        job = start_fill(session, settings, None, body)
    console.print(f"task {job.id}: {job.total_chunks} chunks, source {job.request['source']}")
    if job.request["not_filled"]:
        console.print(f"not filled (older than the cap): {job.request['not_filled']}")
    if detach:
        return
    worker = Worker(
        sessions,
        default_sources(settings.gap_filler_aws_region),
        settings.gap_filler_lease_seconds,
    )
    columns = (TextColumn("filling"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("fill", total=job.total_chunks)
        while worker.run_once():
            with sessions() as session:
                progress.update(task, completed=jobs.get_job(session, None, job.id).done_chunks)
    with sessions() as session:
        report = jobs.status_of(jobs.get_job(session, None, job.id))
    console.print_json(json.dumps({k: report[k] for k in ("status", "records_filled", "error")}))
    if report["status"] != "completed":
        raise typer.Exit(code=1)


@app.command()
@handle_errors
def status(
    task_id: str = typer.Argument(..., help="The id `fill` printed."),
    database_url: str | None = DATABASE,
) -> None:
    """A fill job's status, progress, rows written and time left."""
    from skyroute.gapfill import jobs

    _, sessions = _open(database_url)
    with sessions() as session:
        console.print_json(json.dumps(jobs.status_of(jobs.get_job(session, None, task_id))))


@app.command()
@handle_errors
def worker(
    database_url: str | None = DATABASE,
    once: bool = typer.Option(False, "--once", help="Exit when nothing is left to claim."),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between looks for work."),
) -> None:
    """A standalone fill worker (run several; they never fill the same chunk)."""
    from skyroute.gapfill.worker import Worker, default_sources

    settings, sessions = _open(database_url)
    filler = Worker(
        sessions,
        default_sources(settings.gap_filler_aws_region),
        settings.gap_filler_lease_seconds,
    )
    console.print(f"{filler.owner}: filling chunks from {settings.db_url.split('@')[-1]}")
    while True:
        filled = filler.run_until_idle()
        if filled:
            console.print(f"{filler.owner}: filled {filled} chunks")
        if once:
            return
        time.sleep(poll)
