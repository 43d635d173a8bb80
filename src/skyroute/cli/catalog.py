"""`skyroute catalog regions|prices|carbon|latency`: print the world model's real-data tables."""

from __future__ import annotations

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Show the shipped catalog: regions, prices, carbon and latency.")

PROVIDER_OPTION = typer.Option(None, "--provider", help="Only this provider (aws, azure, gcp).")


def _check_provider(provider: str | None) -> None:
    from skyroute.errors import UnknownNameError
    from skyroute.world.catalog.loader import PROVIDERS

    if provider is not None and provider not in PROVIDERS:
        raise UnknownNameError("provider", provider, PROVIDERS)


def _selected(provider: str | None, core_only: bool) -> list[str]:
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.model import CORE_REGIONS

    _check_provider(provider)
    ids = CORE_REGIONS if core_only else region_ids(load_catalog())
    return [rid for rid in ids if provider is None or rid.startswith(provider + ":")]


@app.command()
@handle_errors
def regions(provider: str | None = PROVIDER_OPTION) -> None:
    """Every region with its coordinates and yearly grid carbon intensity."""
    from skyroute.world.catalog.carbon import yearly_intensity
    from skyroute.world.catalog.loader import coordinates, load_catalog

    catalog = load_catalog()
    table = Table(title="Regions")
    for column in ("region", "lat", "lon", "gCO2e/kWh", "carbon source"):
        table.add_column(
            column, justify="left" if column in ("region", "carbon source") else "right"
        )
    for rid in _selected(provider, core_only=False):
        lat, lon = coordinates(catalog, rid)
        ci, source = yearly_intensity(catalog, rid)
        table.add_row(rid, f"{lat:.2f}", f"{lon:.2f}", f"{ci:.0f}", source)
    console.print(table)


@app.command()
@handle_errors
def prices(
    provider: str | None = PROVIDER_OPTION,
    memory_mb: int = typer.Option(512, "--memory", help="Memory size to price, MB."),
) -> None:
    """Function and container prices per region of the world model, at one memory size."""
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.providers import get_provider
    from skyroute.world.providers.base import ON_DEMAND, SPOT
    from skyroute.world.providers.containers import container_rate

    catalog = load_catalog()
    table = Table(title=f"Prices at {memory_mb} MB (USD)")
    for column in ("region", "function $/s", "$/request", "container $/s", "spot $/s", "source"):
        table.add_column(column, justify="left" if column in ("region", "source") else "right")
    for rid in _selected(provider, core_only=True):
        name, region = rid.split(":", 1)
        rate = get_provider(name).function_rate(catalog, region, memory_mb)
        container = container_rate(catalog, name, region, ON_DEMAND, memory_mb)
        spot = (
            f"{container_rate(catalog, name, region, SPOT, memory_mb).usd_per_second:.3e}"
            if get_provider(name).supports("container", SPOT, memory_mb) is None
            else "-"
        )
        table.add_row(
            rid,
            f"{rate.usd_per_second:.3e}",
            f"{rate.usd_per_request:.2e}",
            f"{container.usd_per_second:.3e}",
            spot,
            container.source,
        )
    console.print(table)


@app.command()
@handle_errors
def carbon(provider: str | None = PROVIDER_OPTION) -> None:
    """Grid carbon intensity of the world model's regions: yearly and the hourly profile."""
    import numpy as np

    from skyroute.world.catalog.carbon import hourly_intensity, yearly_intensity
    from skyroute.world.catalog.loader import load_catalog

    catalog = load_catalog()
    table = Table(title="Grid carbon intensity (gCO2e/kWh)")
    for column in ("region", "yearly", "hourly min", "hourly mean", "hourly max", "hourly source"):
        table.add_column(
            column, justify="left" if "source" in column or column == "region" else "right"
        )
    for rid in _selected(provider, core_only=True):
        yearly, _ = yearly_intensity(catalog, rid)
        hourly, source = hourly_intensity(catalog, rid)
        table.add_row(
            rid,
            f"{yearly:.0f}",
            f"{np.min(hourly):.0f}",
            f"{np.mean(hourly):.0f}",
            f"{np.max(hourly):.0f}",
            source,
        )
    console.print(table)


@app.command()
@handle_errors
def latency(
    origin: str = typer.Option(
        "aws:us-east-1", "--from", help="Caller's region, e.g. aws:eu-west-1."
    ),
    provider: str | None = PROVIDER_OPTION,
) -> None:
    """Round-trip time from a caller's region to each region of the world model."""
    from skyroute.world.catalog.latency import rtt_ms
    from skyroute.world.catalog.loader import load_catalog

    catalog = load_catalog()
    table = Table(title=f"RTT from {origin} (ms)")
    table.add_column("region")
    table.add_column("RTT ms", justify="right")
    table.add_column("source")
    for rid in _selected(provider, core_only=True):
        value, source = rtt_ms(catalog, origin, rid)
        table.add_row(rid, f"{value:.1f}", source)
    console.print(table)
