"""The catalog: schema validation that names file, line and column, and the pure lookups."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyroute.errors import CatalogError, UnknownNameError
from skyroute.world.catalog.carbon import hourly_intensity, yearly_intensity
from skyroute.world.catalog.latency import fitted_rtt_ms, haversine_km, rtt_ms
from skyroute.world.catalog.loader import DATA_DIR, Catalog, load_catalog, parse_region_id
from skyroute.world.model import CORE_REGIONS


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


def test_unknown_region_suggests_a_close_one(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean .*'aws:us-east-1'"):
        parse_region_id(catalog, "aws:us-east-l")


@pytest.mark.parametrize(
    ("file", "line", "old", "new", "message"),
    [
        ("pricing/serverless_prices.csv", 2, "0.0000166667", "abc", "line 2: column 'price_usd'"),
        ("pricing/serverless_prices.csv", 2, "0.0000166667", "-1", "below 0"),
        ("latency/region_coordinates.csv", 2, "-33.9266", "", "line 2: column 'lat' is empty"),
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
    overrides.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="gcp:us-west4 has no coordinates"):
        load_catalog(data_copy)


coordinates = st.tuples(
    st.floats(-89.0, 89.0, allow_nan=False), st.floats(-179.0, 179.0, allow_nan=False)
)


@given(coordinates, coordinates)
def test_great_circle_distance_is_a_symmetric_bounded_metric(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    d = haversine_km(*a, *b)
    assert d == pytest.approx(haversine_km(*b, *a), abs=1e-6)
    assert 0.0 <= d <= np.pi * 6371.0 + 1e-6
    assert haversine_km(*a, *a) == pytest.approx(0.0, abs=1e-6)


@given(st.floats(0, 20_000), st.floats(0, 20_000))
def test_fitted_rtt_grows_with_distance(d1: float, d2: float) -> None:
    low, high = sorted((d1, d2))
    assert fitted_rtt_ms(low, 4.0) <= fitted_rtt_ms(high, 4.0)
