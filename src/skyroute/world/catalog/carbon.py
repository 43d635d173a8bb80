"""Grid carbon intensity (gCO2e/kWh) per region: a yearly figure and an hourly series.

Yearly: GCP regions take Google's latest published year; AWS and Azure regions take Cloud
Carbon Footprint's factor (names matched case-insensitively). A region missing from its table
falls back to the provider's CCF "unknown" average (AWS, Azure) or the median of Google's
latest year (GCP), and says so.

Hourly: US regions mapped to a balancing authority in ``carbon/us_grid_ba_map.csv`` take that
authority's measured 2022 hourly intensity (EIA-930; the few blank hours are linearly
interpolated). Every other region is flat at its yearly figure: no open hourly data exists
outside the US (data/DATA_README.md, "Known gaps").
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.world.catalog.loader import Catalog, parse_region_id

HOURS_PER_YEAR = 8760


def yearly_intensity(catalog: Catalog, region_id: str) -> tuple[float, str]:
    """Yearly average grid intensity of a region and where it comes from."""
    provider, region = parse_region_id(catalog, region_id)
    if provider == "gcp":
        table = catalog.carbon_gcp_yearly
        latest = table[table["year"] == table["year"].max()]
        here = table[table["region"] == region]
        if len(here):
            row = here.sort_values("year").iloc[-1]
            return float(row["grid_ci_gco2e_per_kwh"]), (
                f"gcp_region_carbon_yearly.csv: {region} {int(row['year'])}"
            )
        median = float(latest["grid_ci_gco2e_per_kwh"].median())
        return median, f"fallback: median of GCP regions {int(latest['year'].iloc[0])}"
    table = catalog.carbon_ccf[catalog.carbon_ccf["provider"] == provider]
    names = table["region"].str.lower()
    here = table[names == region.lower()]
    if len(here):
        value = float(here["grid_ci_gco2e_per_kwh"].iloc[0])
        return value, f"ccf_grid_emission_factors_aws_azure.csv: {provider} {region}"
    unknown = table[names == "unknown"]
    return float(unknown["grid_ci_gco2e_per_kwh"].iloc[0]), (
        f"fallback: CCF {provider} 'unknown' average ({region} not listed)"
    )


def balancing_authority(catalog: Catalog, region_id: str) -> str | None:
    """The US balancing authority a region is mapped to, or None outside the mapping."""
    provider, region = parse_region_id(catalog, region_id)
    table = catalog.us_ba_map
    row = table[(table["provider"] == provider) & (table["region"] == region)]
    return str(row["balancing_authority"].iloc[0]) if len(row) else None


@functools.lru_cache(maxsize=16)
def _ba_series(catalog: Catalog, authority: str) -> NDArray[np.float64]:
    column = catalog.carbon_us_hourly[f"{authority}_gco2_per_kwh"]
    filled = pd.Series(column.to_numpy(dtype=np.float64)).interpolate(limit_direction="both")
    return filled.to_numpy(dtype=np.float64)[:HOURS_PER_YEAR]


def hourly_intensity(catalog: Catalog, region_id: str) -> tuple[NDArray[np.float64], str]:
    """Intensity for each hour of a (2022) year, shape (8760,), and its source."""
    authority = balancing_authority(catalog, region_id)
    if authority is not None:
        series = _ba_series(catalog, authority).copy()
        return series, f"us_grid_hourly_ci_2022.csv: {authority} hourly (EIA-930)"
    value, source = yearly_intensity(catalog, region_id)
    return np.full(HOURS_PER_YEAR, value, dtype=np.float64), f"{source}; flat over the year"
