"""Entry point of the ``skyroute`` console script."""

from __future__ import annotations

import typer

from skyroute import __version__
from skyroute.cli import (
    autoscale,
    bundle,
    catalog,
    db,
    gapfill,
    serve,
    simulate,
    sweep,
    tenant,
    trace,
    train,
    world,
)
from skyroute.cli._common import configure_logging

app = typer.Typer(
    name="skyroute",
    help="Decide where cloud workloads should run: provider, region, memory, platform, purchase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(trace.app, name="trace")
app.add_typer(bundle.app, name="bundle")
app.add_typer(train.app, name="train")
app.add_typer(train.dataset_app, name="dataset")
app.add_typer(gapfill.app, name="gapfill")
app.add_typer(world.app, name="world")
app.add_typer(tenant.app, name="tenant")
app.add_typer(sweep.app, name="sweep")
app.add_typer(autoscale.app, name="autoscale")
app.add_typer(db.app, name="db")
app.command("evaluate")(train.evaluate)
app.command("simulate")(simulate.simulate)
app.command("serve")(serve.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skyroute {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """SkyRoute command line."""
    configure_logging(debug)


if __name__ == "__main__":
    app()
