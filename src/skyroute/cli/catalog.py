"""`skyroute catalog regions|prices|carbon|latency|latency-fit`: print the real-data tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

if TYPE_CHECKING:
    from skyroute.world.model import WorldConfig

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
    """Every product's price per region of the world model, at one memory size."""
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.products import products_of

    catalog = load_catalog()
    table = Table(title=f"Prices at {memory_mb} MB (USD; products without that size are skipped)")
    for column in ("region", "product", "purchase", "$/s busy", "$/s idle", "$/request", "source"):
        table.add_column(
            column,
            justify="left" if column in ("region", "product", "purchase", "source") else "right",
        )
    for rid in _selected(provider, core_only=True):
        name, region = rid.split(":", 1)
        for product in products_of(name):
            sizes = product.memory_sizes(_config_with(memory_mb))
            if memory_mb not in sizes:
                continue
            for purchase in product.purchases:
                price = product.price(catalog, region, memory_mb, purchase)
                busy = (
                    f"{price.usd_per_second:.3e}"
                    if price.usd_per_observed_gb_second == 0
                    else f"{price.usd_per_observed_gb_second:.3e}/GB used"
                )
                table.add_row(
                    rid,
                    product.name,
                    purchase,
                    busy,
                    f"{price.idle_usd_per_second:.3e}" if price.idle_usd_per_second else "-",
                    f"{price.usd_per_request:.2e}",
                    price.source,
                )
    console.print(table)


def _config_with(memory_mb: int) -> WorldConfig:
    from skyroute.world.model import WorldConfig

    return WorldConfig(memory_sizes_mb=(memory_mb,))


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


@app.command("latency-fit")
@handle_errors
def latency_fit() -> None:
    """The distance-band RTT fit: coefficients and its error on the measured pairs."""
    from skyroute.world.catalog.latency import fit_error_report
    from skyroute.world.catalog.loader import load_catalog

    table = Table(title="RTT fit per distance band: rtt = a + b x km (errors on measured pairs)")
    for column in (
        "band km",
        "a ms",
        "b ms/km",
        "n (aws/azure)",
        "median |err| %",
        "mean |err| %",
        "other provider's fit, median |err| %",
    ):
        table.add_column(column, justify="left" if column == "band km" else "right")
    for band in fit_error_report(load_catalog()):
        table.add_row(
            f"{band.lo_km:.0f}-{band.hi_km:.0f}",
            f"{band.intercept_ms:.2f}",
            f"{band.slope_ms_per_km:.5f}",
            f"{band.n_pairs} ({band.n_aws}/{band.n_azure})",
            f"{band.median_abs_pct:.1f}",
            f"{band.mean_abs_pct:.1f}",
            f"{band.lopo_median_abs_pct:.1f}",
        )
    console.print(table)
