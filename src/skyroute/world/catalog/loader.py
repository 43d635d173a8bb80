"""Load the shipped catalog once, validated, as one read-only object of tables.

Tables keep the source CSVs' column names so that every number can be traced back to the file
(and from there, through the folder's SOURCE.md, to its origin). Lookups over them are pure
functions in :mod:`skyroute.world.catalog.latency`, :mod:`~skyroute.world.catalog.carbon` and
the provider modules.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from skyroute.errors import CatalogError, UnknownNameError
from skyroute.world.catalog.schema import TABLES, read_table

#: Where the shipped CSVs live inside the package.
DATA_DIR = Path(__file__).parent / "data"

PROVIDERS = ("aws", "azure", "gcp")


@dataclass(frozen=True, eq=False)
class Catalog:
    """Every table of the world model (see ``schema.TABLES`` for files and columns).

    Compared and hashed by identity, so lookups can cache per loaded catalog.
    """

    data_dir: Path
    regions: pd.DataFrame
    region_overrides: pd.DataFrame
    serverless_prices: pd.DataFrame
    gcp_tiers: pd.DataFrame
    gcp_memory_ghz: pd.DataFrame
    fargate_prices: pd.DataFrame
    cloud_run_prices: pd.DataFrame
    container_apps_prices: pd.DataFrame
    flex_prices: pd.DataFrame
    flex_sizes: pd.DataFrame
    gcp_price_tiers: pd.DataFrame
    billing_rules: pd.DataFrame
    free_tiers: pd.DataFrame
    vm_prices: pd.DataFrame
    carbon_gcp_yearly: pd.DataFrame
    carbon_ccf: pd.DataFrame
    carbon_us_hourly: pd.DataFrame
    us_ba_map: pd.DataFrame
    rtt_aws: pd.DataFrame
    rtt_azure: pd.DataFrame
    coldstart_aws: pd.DataFrame
    container_startup: pd.DataFrame
    coldstart_shilkov: pd.DataFrame
    coldstart_idle: pd.DataFrame
    spot_advisor: pd.DataFrame
    spot_availability: pd.DataFrame

    def source_of(self, table: str) -> Path:
        """The CSV file a table was read from."""
        return self.data_dir / TABLES[table].path


@functools.lru_cache(maxsize=4)
def load_catalog(data_dir: Path | None = None) -> Catalog:
    """Read and validate every table (cached: the catalog is loaded once per process)."""
    root = Path(data_dir) if data_dir is not None else DATA_DIR
    tables = {name: read_table(root, spec) for name, spec in TABLES.items()}
    tables["regions"] = _with_overrides(tables["regions"], tables["region_overrides"])
    return Catalog(data_dir=root, **tables)


def _with_overrides(regions: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Apply documented coordinate corrections, keeping the source's values beside them.

    The source leaves a few regions at (0, 0) and puts a few in the wrong city (AWS us-east-1
    near Lynchburg instead of Ashburn, ca-central-1 in northern Alberta instead of Montreal);
    ``region_coordinates_overrides.csv`` corrects them, one row per region, each with its reason
    and source. The original values stay in ``lat_source``/``lon_source`` and
    ``coordinates_basis`` says which rows were corrected. Any (0, 0) left afterwards is an error.
    """
    out = regions.assign(
        lat_source=regions["lat"], lon_source=regions["lon"], coordinates_basis="source"
    )
    path = TABLES["region_overrides"].path
    twice = overrides[overrides.duplicated(["provider", "region"])]
    if len(twice):
        first = twice.iloc[0]
        raise CatalogError(
            f"{path}: {first['provider']}:{first['region']} is corrected more than once",
            "keep one row per region",
        )
    for _, fix in overrides.iterrows():
        rows = (out["provider"] == fix["provider"]) & (out["region"] == fix["region"])
        if not rows.any():
            raise CatalogError(
                f"{path}: {fix['provider']}:{fix['region']} is not in {TABLES['regions'].path}",
                "correct only regions the coordinates file lists",
            )
        out.loc[rows, ["lat", "lon"]] = [fix["lat"], fix["lon"]]
        out.loc[rows, "coordinates_basis"] = f"override: {fix['reason']}"
    unset = out[(out["lat"] == 0.0) & (out["lon"] == 0.0)]
    if len(unset):
        first = unset.iloc[0]
        raise CatalogError(
            f"{TABLES['regions'].path}: {first['provider']}:{first['region']} has no coordinates "
            "(lat = lon = 0)",
            f"add the region to {TABLES['region_overrides'].path}",
        )
    return out


@functools.lru_cache(maxsize=8)
def _region_table(catalog: Catalog) -> dict[str, tuple[float, float]]:
    """Region id → (lat, lon), built once per catalog (lookups run per pair of regions)."""
    frame = catalog.regions
    return {
        f"{p}:{r}": (float(lat), float(lon))
        for p, r, lat, lon in zip(
            frame["provider"], frame["region"], frame["lat"], frame["lon"], strict=True
        )
    }


def region_ids(catalog: Catalog) -> tuple[str, ...]:
    """Every known region as ``"<provider>:<region>"``, e.g. ``"gcp:europe-west1"``."""
    return tuple(_region_table(catalog))


def parse_region_id(catalog: Catalog, region_id: str) -> tuple[str, str]:
    """Split ``"aws:us-east-1"`` into (provider, region); unknown ids get a "did you mean"."""
    provider, sep, region = region_id.partition(":")
    if not sep or provider not in PROVIDERS:
        raise UnknownNameError("region", region_id, region_ids(catalog))
    if region_id not in _region_table(catalog):
        raise UnknownNameError("region", region_id, region_ids(catalog))
    return provider, region


def coordinates(catalog: Catalog, region_id: str) -> tuple[float, float]:
    """(latitude, longitude) of a region, in degrees."""
    parse_region_id(catalog, region_id)
    return _region_table(catalog)[region_id]
