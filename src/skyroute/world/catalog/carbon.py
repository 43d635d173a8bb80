"""Grid carbon intensity (gCO2e/kWh) per region: a yearly figure and an hourly series.

Yearly: GCP regions take Google's latest published year; AWS and Azure regions take Cloud
Carbon Footprint's factor (names matched case-insensitively). A region missing from its table
falls back to the provider's CCF "unknown" average (AWS, Azure) or the median of Google's
latest year (GCP), and says so.

Hourly: US regions mapped to a balancing authority in ``carbon/us_grid_ba_map.csv`` take that
authority's measured 2022 hourly intensity (EIA-930). Blank hours and implausible hours are
replaced by linear interpolation (:func:`clean_hourly`); the source string says how many. Every
other region is flat at its yearly figure: no open hourly data exists outside the US
(data/DATA_README.md, "Known gaps").

An hour is implausible when it lies below ``OUTLIER_LOW`` or above ``OUTLIER_HIGH`` times *both*
its local reference (the median of the centred 25-hour window) and its daily reference (the
median of the same hour on the ``SAME_HOUR_DAYS`` days centred on it). The 24-hour rule alone
would flag every sunny midday in California (solar drives CISO below half its daily median for
hours); a real daily cycle repeats from day to day, so the same-hour reference keeps it, while
a recording glitch (PJM reads 43-47 g/kWh for five hours of 2022-10-01/02 between hours at
~300) fails both.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.world.catalog.loader import Catalog, parse_region_id

HOURS_PER_YEAR = 8760
OUTLIER_LOW = 0.5
OUTLIER_HIGH = 2.0
LOCAL_WINDOW_HOURS = 25
SAME_HOUR_DAYS = 15


class CleanedSeries(NamedTuple):
    """An hourly series after cleaning, with what was replaced."""

    values: NDArray[np.float64]
    blank_hours: int
    outlier_hours: int
    outliers: NDArray[np.bool_]


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


def _centred_median(values: NDArray[np.float64], lags: range) -> NDArray[np.float64]:
    """Median of ``values[t + lag]`` over ``lags`` for each t, ignoring blanks and the ends."""
    n = len(values)
    stack = np.full((len(lags), n), np.nan)
    for row, lag in enumerate(lags):
        if lag >= 0:
            stack[row, : n - lag] = values[lag:]
        else:
            stack[row, -lag:] = values[: n + lag]
    out = np.full(n, np.nan)
    seen = ~np.isnan(stack).all(axis=0)
    out[seen] = np.nanmedian(stack[:, seen], axis=0)
    return out


def outlier_hours(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Hours outside [OUTLIER_LOW, OUTLIER_HIGH] x both the local and the same-hour median."""
    half = LOCAL_WINDOW_HOURS // 2
    local = _centred_median(values, range(-half, half + 1))
    days = SAME_HOUR_DAYS // 2
    same_hour = _centred_median(values, range(-24 * days, 24 * days + 1, 24))
    with np.errstate(invalid="ignore"):
        off_local = (values < OUTLIER_LOW * local) | (values > OUTLIER_HIGH * local)
        off_daily = (values < OUTLIER_LOW * same_hour) | (values > OUTLIER_HIGH * same_hour)
    return np.asarray(off_local & off_daily, dtype=np.bool_)


def clean_hourly(values: NDArray[np.float64]) -> CleanedSeries:
    """Replace blank and implausible hours by linear interpolation (pure; see module doc)."""
    raw = np.asarray(values, dtype=np.float64)
    blank = np.isnan(raw)
    outliers = outlier_hours(raw)
    kept = np.where(outliers, np.nan, raw)
    filled = pd.Series(kept).interpolate(limit_direction="both")
    values = np.asarray(filled.to_numpy(dtype=np.float64), dtype=np.float64)
    return CleanedSeries(values, int(blank.sum()), int(outliers.sum()), outliers)


@functools.lru_cache(maxsize=16)
def _ba_series(catalog: Catalog, authority: str) -> CleanedSeries:
    column = catalog.carbon_us_hourly[f"{authority}_gco2_per_kwh"]
    return clean_hourly(column.to_numpy(dtype=np.float64)[:HOURS_PER_YEAR])


def authorities(catalog: Catalog) -> tuple[str, ...]:
    """The balancing authorities with an hourly series, e.g. ``("PJM", "MISO", ...)``."""
    suffix = "_gco2_per_kwh"
    columns = catalog.carbon_us_hourly.columns
    return tuple(str(c).removesuffix(suffix) for c in columns if str(c).endswith(suffix))


def cleaning_report(catalog: Catalog) -> dict[str, CleanedSeries]:
    """Every authority's cleaned series, with its blank and outlier counts."""
    return {authority: _ba_series(catalog, authority) for authority in authorities(catalog)}


def hourly_intensity(catalog: Catalog, region_id: str) -> tuple[NDArray[np.float64], str]:
    """Intensity for each hour of a (2022) year, shape (8760,), and its source."""
    authority = balancing_authority(catalog, region_id)
    if authority is not None:
        cleaned = _ba_series(catalog, authority)
        return cleaned.values.copy(), (
            f"us_grid_hourly_ci_2022.csv: {authority} hourly (EIA-930); "
            f"{cleaned.outlier_hours} outlier hours interpolated "
            f"({cleaned.blank_hours} blank hours filled)"
        )
    value, source = yearly_intensity(catalog, region_id)
    return np.full(HOURS_PER_YEAR, value, dtype=np.float64), f"{source}; flat over the year"
