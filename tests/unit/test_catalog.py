"""The catalog: schema validation that names file, line and column, and the pure lookups."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyroute.errors import CatalogError, UnknownNameError
from skyroute.world.catalog.carbon import (
    clean_hourly,
    cleaning_report,
    hourly_intensity,
    yearly_intensity,
)
from skyroute.world.catalog.latency import (
    BAND_EDGES_KM,
    fit_error_report,
    fit_rtt_bands,
    fitted_rtt_ms,
    haversine_km,
    measured_pairs,
    rtt_fit,
    rtt_ms,
)
from skyroute.world.catalog.loader import (
    DATA_DIR,
    Catalog,
    coordinates,
    load_catalog,
    parse_region_id,
)
from skyroute.world.catalog.schema import TABLES
from skyroute.world.model import CORE_REGIONS

#: The tables shipped in 2026-11 from shared/data/products, by attribute name.
PRODUCT_TABLES = (
    "cloud_run_prices",
    "container_apps_prices",
    "flex_prices",
    "flex_sizes",
    "gcp_price_tiers",
    "billing_rules",
    "free_tiers",
    "container_startup",
)


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target, ignore=shutil.ignore_patterns("traces"))
    return target


def _replace_in(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_core_region_has_prices_carbon_and_latency(catalog: Catalog) -> None:
    for rid in CORE_REGIONS:
        provider, region = parse_region_id(catalog, rid)
        assert rid == f"{provider}:{region}"
        value, source = yearly_intensity(catalog, rid)
        assert 0 < value < 1500 and source
        hourly, source = hourly_intensity(catalog, rid)
        assert hourly.shape == (8760,) and np.isfinite(hourly).all() and (hourly > 0).all()
        assert 0 < rtt_ms(catalog, "aws:us-east-1", rid)[0] < 400


def test_us_regions_get_the_measured_hourly_profile(catalog: Catalog) -> None:
    hourly, source = hourly_intensity(catalog, "aws:us-east-1")
    assert "PJM" in source
    assert hourly.std() > 1.0
    flat, source = hourly_intensity(catalog, "aws:eu-west-1")
    assert "flat" in source and np.ptp(flat) == 0.0


def test_measured_latency_is_used_where_published(catalog: Catalog) -> None:
    table = catalog.rtt_aws
    row = table[(table["src_region"] == "eu-west-1") & (table["dst_region"] == "us-east-1")]
    value, source = rtt_ms(catalog, "aws:eu-west-1", "aws:us-east-1")
    assert value == float(row["rtt_p50_ms"].iloc[0])
    assert source.startswith("measured")
    assert rtt_ms(catalog, "azure:eastus", "azure:westeurope")[1].startswith("measured")
    assert rtt_ms(catalog, "gcp:us-east4", "gcp:europe-west1")[1].startswith("fit")


def test_coordinate_overrides_are_applied_and_labelled(catalog: Catalog) -> None:
    regions = catalog.regions
    row = regions[(regions["provider"] == "gcp") & (regions["region"] == "europe-west3")].iloc[0]
    assert (row["lat_source"], row["lon_source"]) == (0.0, 0.0)
    assert 49 < row["lat"] < 51 and row["coordinates_basis"].startswith("override")


def test_us_east_1_sits_in_ashburn_next_to_gcp_us_east4(catalog: Catalog) -> None:
    regions = catalog.regions
    row = regions[(regions["provider"] == "aws") & (regions["region"] == "us-east-1")].iloc[0]
    assert (row["lat"], row["lon"]) == (39.0458, -77.4874)
    assert (row["lat_source"], row["lon_source"]) == (37.2563, -79.099)
    assert "Ashburn" in row["coordinates_basis"]
    assert haversine_km(*coordinates(catalog, "aws:us-east-1"), 39.0437, -77.489) < 1.0
    lat, lon = coordinates(catalog, "aws:ca-central-1")
    assert haversine_km(lat, lon, 45.5017, -73.5673) < 1.0  # Montreal, not northern Alberta
    west = regions[(regions["provider"] == "aws") & (regions["region"] == "us-west-2")].iloc[0]
    assert "confidence low" in west["coordinates_basis"]


def test_every_override_names_its_source(catalog: Catalog) -> None:
    overrides = catalog.region_overrides
    assert not overrides.duplicated(["provider", "region"]).any()
    assert (overrides["source"] != "").all() and (overrides["reason"] != "").all()


@pytest.mark.parametrize("name", PRODUCT_TABLES)
def test_every_product_table_loads_with_its_declared_columns(catalog: Catalog, name: str) -> None:
    frame = getattr(catalog, name)
    assert len(frame) > 0
    assert set(TABLES[name].columns) <= set(frame.columns)
    assert catalog.source_of(name).is_file()
    shipped = pd.read_csv(catalog.source_of(name), dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(shipped.columns)  # every source column kept


def test_product_tables_hold_the_published_values(catalog: Catalog) -> None:
    run = catalog.cloud_run_prices
    tier1 = run[
        (run["price_tier"] == "tier1") & run["billing_mode"].str.startswith("request-based (")
    ]
    assert tier1["usd_per_vcpu_second"].iloc[0] == 0.000024
    assert math.isnan(run["usd_per_million_requests"].iloc[-1])  # blank stays blank
    tiers = catalog.gcp_price_tiers
    gen1 = tiers[(tiers["product"] == "cloud-functions-gen1") & (tiers["region"] == "us-west1")]
    assert gen1["price_tier"].tolist() == [1]
    assert catalog.flex_sizes["instance_memory_mb"].tolist() == [512, 2048, 4096]
    rules = catalog.billing_rules
    assert "2025-08-01" in rules["value"].tolist()  # values are text: a date is one
    fargate = catalog.fargate_prices
    assert len(fargate) == 11 and set(fargate["region"]) >= {"ap-northeast-1", "ap-southeast-2"}
    old = fargate[fargate["region"] == "us-east-1"]
    assert old["usd_per_vcpu_hour"].tolist() == [0.04048, 0.03238]
    assert (old["confidence"] == "").all()


def test_unknown_region_suggests_a_close_one(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean .*'aws:us-east-1'"):
        parse_region_id(catalog, "aws:us-east-l")


@pytest.mark.parametrize(
    ("file", "line", "old", "new", "message"),
    [
        ("pricing/serverless_prices.csv", 2, "0.0000166667", "abc", "line 2: column 'price_usd'"),
        ("pricing/serverless_prices.csv", 2, "0.0000166667", "-1", "below 0"),
        ("latency/region_coordinates.csv", 2, "-33.9266", "", "line 2: column 'lat' is empty"),
        ("pricing/cloud_run_prices.csv", 3, "0.0000336", "x", "line 3: column 'usd_per_vcpu_sec"),
        ("pricing/azure_container_apps_prices.csv", 2, "0.000024", "", "'usd_per_vcpu_second' is"),
        ("pricing/azure_functions_flex_prices.csv", 2, "0.000026", "-1", "below 0"),
        (
            "pricing/azure_functions_flex_instance_sizes.csv",
            3,
            "2048",
            "2k",
            "'instance_memory_mb'",
        ),
        ("pricing/gcp_region_price_tiers.csv", 2, ",1,", ",0,", "line 2: column 'price_tier'"),
        (
            "pricing/billing_rules_and_limits.csv",
            2,
            "gcp",
            "",
            "line 2: column 'provider' is empty",
        ),
        ("pricing/serverless_free_tiers.csv", 2, "180000", "lots", "'free_vcpu_seconds_per_month'"),
        ("coldstart/container_startup_latency.csv", 2, ",55,", ",n/a,", "column 'latency_s' holds"),
        ("pricing/container_fargate_prices.csv", 8, "0.05056", "?", "line 8: column 'usd_per_vcpu"),
        ("latency/region_coordinates_overrides.csv", 3, "39.0458", "", "column 'lat' is empty"),
    ],
)
def test_broken_value_names_file_line_and_column(
    data_copy: Path, file: str, line: int, old: str, new: str, message: str
) -> None:
    _replace_in(data_copy / file, line, old, new)
    with pytest.raises(CatalogError) as raised:
        load_catalog(data_copy)
    assert file in str(raised.value) and message in str(raised.value)


def test_missing_file_is_named(data_copy: Path) -> None:
    (data_copy / "spot" / "aws_spot_advisor_interruption_2024-02.csv").unlink()
    with pytest.raises(CatalogError, match=r"interruption_2024-02\.csv is missing"):
        load_catalog(data_copy)


def test_missing_column_is_named(data_copy: Path) -> None:
    _replace_in(data_copy / "pricing/container_fargate_prices.csv", 1, "usd_per_gb_hour", "usd_gb")
    with pytest.raises(CatalogError, match="missing column\\(s\\) usd_per_gb_hour"):
        load_catalog(data_copy)


def test_region_left_at_zero_zero_without_override_is_an_error(data_copy: Path) -> None:
    overrides = data_copy / "latency/region_coordinates_overrides.csv"
    lines = overrides.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith("gcp,us-west4,")]
    assert len(kept) == len(lines) - 1
    overrides.write_text("\n".join(kept) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="gcp:us-west4 has no coordinates"):
        load_catalog(data_copy)


def test_a_region_corrected_twice_is_an_error(data_copy: Path) -> None:
    overrides = data_copy / "latency/region_coordinates_overrides.csv"
    lines = overrides.read_text(encoding="utf-8").splitlines()
    overrides.write_text("\n".join([*lines, lines[-1]]) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="aws:us-west-2 is corrected more than once"):
        load_catalog(data_copy)


points = st.tuples(
    st.floats(-89.0, 89.0, allow_nan=False), st.floats(-179.0, 179.0, allow_nan=False)
)


@given(points, points)
def test_great_circle_distance_is_a_symmetric_bounded_metric(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    d = haversine_km(*a, *b)
    assert d == pytest.approx(haversine_km(*b, *a), abs=1e-6)
    assert 0.0 <= d <= np.pi * 6371.0 + 1e-6
    assert haversine_km(*a, *a) == pytest.approx(0.0, abs=1e-6)


@given(st.floats(0, 20_000), st.floats(0, 20_000))
def test_fitted_rtt_grows_with_distance(d1: float, d2: float) -> None:
    fit = rtt_fit(load_catalog())
    low, high = sorted((d1, d2))
    assert fitted_rtt_ms(low, fit) <= fitted_rtt_ms(high, fit)


def test_band_fit_is_continuous_at_every_edge(catalog: Catalog) -> None:
    fit = rtt_fit(catalog)
    assert fit.edges_km == BAND_EDGES_KM
    for edge in fit.edges_km[1:-1]:
        below = fitted_rtt_ms(np.nextafter(edge, 0.0), fit)
        assert below <= fitted_rtt_ms(edge, fit) == pytest.approx(below, abs=1e-9)
    assert fitted_rtt_ms(0.0, fit) == fit.intra_region_ms  # same metro: intra-region RTT


def _tiny_pairs(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["provider", "distance_km", "rtt_ms"])


def test_band_fit_on_a_small_table() -> None:
    # One line, 10 ms + 0.02 ms/km, measured from 200 to 3,000 km; nothing beyond.
    pairs = _tiny_pairs([("aws", d, 10.0 + 0.02 * d) for d in (200.0, 800.0, 2000.0, 3000.0)])
    fit = fit_rtt_bands(pairs, intra_region_ms=2.0)
    assert fitted_rtt_ms(50.0, fit) == pytest.approx(2.0 + 0.01 * 50.0)
    assert fitted_rtt_ms(2500.0, fit) == pytest.approx(60.0, rel=0.15)
    # Bands no pair reaches keep the last fitted slope instead of going flat.
    assert fit.slope_ms_per_km[-1] == fit.slope_ms_per_km[2] > 0.0


def test_band_fit_never_gets_a_negative_slope() -> None:
    # RTT that falls with distance beyond 1,500 km: the fit must stay non-decreasing.
    pairs = _tiny_pairs([("aws", 500.0, 30.0), ("aws", 1400.0, 60.0), ("azure", 4000.0, 20.0)])
    fit = fit_rtt_bands(pairs, intra_region_ms=3.0)
    assert min(fit.slope_ms_per_km) >= 0.0
    assert fitted_rtt_ms(4000.0, fit) >= fitted_rtt_ms(1400.0, fit)


def test_fit_error_per_band_is_reported_and_modest(catalog: Catalog) -> None:
    pairs = measured_pairs(catalog)
    report = fit_error_report(catalog)
    assert [(b.lo_km, b.hi_km) for b in report] == list(itertools.pairwise(BAND_EDGES_KM))
    assert sum(b.n_pairs for b in report) == len(pairs)
    assert sum(b.n_aws + b.n_azure for b in report) == len(pairs)
    for band in report:
        assert band.n_pairs > 0
        assert 0.0 < band.median_abs_pct < 30.0, band
        assert band.median_abs_pct <= band.mean_abs_pct
    fitted = [b for b in report if b.lo_km >= 100.0]
    assert all(b.n_aws > 10 and b.n_azure > 10 for b in fitted)
    assert all(b.lopo_median_abs_pct < 30.0 for b in fitted)


def test_fit_beats_the_old_single_line_on_measured_pairs(catalog: Catalog) -> None:
    pairs = measured_pairs(catalog)
    fit = rtt_fit(catalog)
    measured = pairs["rtt_ms"].to_numpy()
    band = np.array([fitted_rtt_ms(d, fit) for d in pairs["distance_km"]])
    line = np.where(
        pairs["distance_km"] < 100.0, fit.intra_region_ms, 25.0 + 0.015 * pairs["distance_km"]
    )
    assert np.median(np.abs(band - measured) / measured) < np.median(
        np.abs(line - measured) / measured
    )


def test_unmeasured_pairs_name_their_band(catalog: Catalog) -> None:
    value, source = rtt_ms(catalog, "aws:us-east-1", "gcp:us-east4")
    assert source.startswith("fit: band 0-100 km (same metro") and value < 5.0
    value, source = rtt_ms(catalog, "aws:us-east-1", "azure:eastus")
    assert source.startswith("fit: band 100-1500 km") and 3.0 < value < 15.0


def test_pjm_glitch_hours_are_interpolated_and_counted(catalog: Catalog) -> None:
    raw = catalog.carbon_us_hourly["PJM_gco2_per_kwh"].to_numpy(dtype=np.float64)[:8760]
    assert np.nanmin(raw) < 50.0  # the glitch is in the source
    hourly, source = hourly_intensity(catalog, "aws:us-east-1")
    cleaned = cleaning_report(catalog)["PJM"]
    assert hourly.min() > 100.0
    assert f"; {cleaned.outlier_hours} outlier hours interpolated" in source
    present = ~np.isnan(raw)
    changed = present & (hourly != raw)
    assert int(changed.sum()) == cleaned.outlier_hours > 0
    assert np.array_equal(np.flatnonzero(changed), np.flatnonzero(cleaned.outliers))


def test_daily_solar_dips_are_not_outliers(catalog: Catalog) -> None:
    report = cleaning_report(catalog)
    assert set(report) == {"PJM", "MISO", "ERCO", "CISO", "BPAT", "AZPS", "NYIS", "SOCO"}
    # California's midday solar halves its intensity every sunny day: that is data, not noise.
    assert report["CISO"].outlier_hours <= 3
    assert report["AZPS"].outlier_hours == 0


def test_cleaning_a_small_series() -> None:
    day = np.tile([300.0, 310.0, 320.0, 330.0], 6 * 10)  # 10 days of 24 hours
    series = day.copy()
    series[100] = 40.0  # a glitch
    series[130] = np.nan  # a blank
    cleaned = clean_hourly(series)
    assert (cleaned.outlier_hours, cleaned.blank_hours) == (1, 1)
    assert cleaned.values[100] == pytest.approx((series[99] + series[101]) / 2)
    assert np.isfinite(cleaned.values).all()
