"""The router's raw request -> the bundle's features: vocabulary, assumptions, errors."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundlemaker import SEED_REQUEST as SEED
from skyroute.bundles import router_request as rr

DATA = Path(rr.__file__).parents[1] / "world" / "catalog" / "data"

timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
seed_requests = st.fixed_dictionaries({
    "workload_type": st.sampled_from([w.value for w in rr.WorkloadType]),
    "payload_size_kb": st.floats(0, rr.MAX_PAYLOAD_KB),
    "time_window": st.sampled_from([w.value for w in rr.TimeWindow]),
    "load_pattern": st.sampled_from([p.value for p in rr.LoadPattern]),
    "timestamp": timestamps.map(datetime.isoformat),
})  # fmt: skip
profiles = st.fixed_dictionaries({
    "profile": st.fixed_dictionaries({
        "memory_mb": st.floats(1, rr.MAX_MEMORY_MB),
        "duration_ms": st.floats(1e-3, rr.MAX_DURATION_MS),
        "payload_kb": st.floats(0, rr.MAX_PAYLOAD_KB),
        "calls_per_minute": st.floats(1e-6, rr.MAX_CALLS_PER_MINUTE),
        "gap_cv": st.floats(0, 100),
    }),
    "timestamp": st.integers(0, 4_000_000_000),
})  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.one_of(seed_requests, profiles))
def test_every_valid_request_gives_a_finite_vector_of_the_bundles_length(body: dict) -> None:
    x = rr.features_for(body)
    assert x.shape == (len(rr.FEATURES),) and x.dtype == np.float32
    assert np.isfinite(x).all()


def test_the_feature_list_is_the_datasets() -> None:
    from skyroute.learn.dataset import FEATURE_SET, FEATURES

    assert rr.FEATURES == FEATURES and rr.FEATURE_SET == FEATURE_SET


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_default_prices_are_the_shipped_catalogs() -> None:
    prices = rr.RouterPrices()
    (lam,) = [
        r for r in _rows("pricing/serverless_prices.csv")
        if r["service"] == "lambda" and r["arch"] == "x86_64" and r["region"] == "default"
        and r["unit"] == "usd_per_gb_second"
    ]  # fmt: skip
    assert prices.function_usd_per_gb_second == float(lam["price_usd"])
    (fargate,) = [
        r for r in _rows("pricing/container_fargate_prices.csv")
        if r["arch"] == "x86_64" and r["region"] == "us-east-1"
    ]  # fmt: skip
    assert prices.container_usd_per_vcpu_hour == float(fargate["usd_per_vcpu_hour"])
    assert prices.container_usd_per_gb_hour == float(fargate["usd_per_gb_hour"])
    (grid,) = [
        r for r in _rows("carbon/ccf_grid_emission_factors_aws_azure.csv")
        if r["provider"] == "aws" and r["region"] == "us-east-1"
    ]  # fmt: skip
    assert prices.grid_gco2_per_kwh == float(grid["grid_ci_gco2e_per_kwh"])


def _feature(body: dict, name: str) -> float:
    return float(rr.features_for(body)[rr.FEATURES.index(name)])


def test_the_derived_numbers_follow_the_documented_assumptions() -> None:
    # 20 calls a minute: 300 in the previous 15-minute window, a 3 s mean gap.
    assert _feature(SEED, "log_calls_prev") == pytest.approx(np.log1p(300), rel=1e-6)
    assert _feature(SEED, "log_gap_s") == pytest.approx(np.log1p(3.0), rel=1e-6)
    # lightweight API: 128 MB, 50 ms -> busy = 20/60 * 0.05.
    assert _feature(SEED, "log_memory_mb") == pytest.approx(np.log10(128), rel=1e-6)
    assert _feature(SEED, "busy_1h") == pytest.approx(np.log10(1e-6 + 20 / 60 * 0.05), rel=1e-5)
    # The timestamp's hour lies in business hours: kept (14.5 h).
    assert _feature(SEED, "hour_sin") == pytest.approx(np.sin(2 * np.pi * 14.5 / 24), abs=1e-6)
    # ... and outside early morning: the window's hour (7) instead.
    early = {**SEED, "time_window": "early_morning"}
    assert _feature(early, "hour_sin") == pytest.approx(np.sin(2 * np.pi * 7 / 24), abs=1e-6)
    heavier = {**SEED, "workload_type": "heavy_processing"}
    assert _feature(heavier, "log_fn_price") > _feature(SEED, "log_fn_price")
    assert _feature({**SEED, "load_pattern": "bursty"}, "gap_cv") == 3.0


def test_night_wraps_midnight() -> None:
    assert rr.hour_in_window(23.5, rr.TimeWindow.NIGHT) == 23.5
    assert rr.hour_in_window(3.0, rr.TimeWindow.NIGHT) == 3.0
    assert rr.hour_in_window(12.0, rr.TimeWindow.NIGHT) == 2.0


def test_a_profile_gives_its_own_numbers() -> None:
    body = {
        "profile": {"memory_mb": 256, "duration_ms": 120, "calls_per_minute": 6},
        "timestamp": 1_764_417_600,
    }
    assert _feature(body, "log_memory_mb") == pytest.approx(np.log10(256), rel=1e-6)
    assert _feature(body, "log_gap_s") == pytest.approx(np.log1p(10.0), rel=1e-6)
    assert _feature(body, "gap_cv") == 1.0


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({k: v for k, v in SEED.items() if k != "load_pattern"}, "load_pattern", "missing"),
        ({**SEED, "workload_type": "gpu_training"}, "workload_type", "lightweight_api"),
        ({**SEED, "payload_size_kb": "big"}, "payload_size_kb", "number"),
        ({**SEED, "payload_size_kb": -1}, "payload_size_kb", "greater than or equal"),
        ({**SEED, "timestamp": "yesterday"}, "timestamp", "datetime"),
        ({**SEED, "colour": "red"}, "colour", "not known"),
        ({"profile": {"memory_mb": 128}, "timestamp": 0}, "profile.duration_ms", "missing"),
        ([1, 2], "body", "JSON object"),
    ],
)
def test_bad_requests_name_the_field(body: object, field: str, says: str) -> None:
    with pytest.raises(rr.RouterRequestError) as err:
        rr.features_for(body)
    assert err.value.field == field
    assert says in str(err.value)


def test_bundle_order_and_unknown_features() -> None:
    x = rr.features_for(SEED)
    names = ["gap_cv", "hour_sin"]
    assert list(rr.in_bundle_order(x, names)) == [x[13], x[0]]
    with pytest.raises(rr.RouterRequestError, match="cannot give"):
        rr.in_bundle_order(x, ["x0"])


def test_imports_no_training_library() -> None:
    code = (
        "import sys, skyroute.bundles.router_request; "
        "print(sorted(m for m in ('sklearn', 'torch', 'pandas', 'lightgbm', 'xgboost') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
