"""Trace loaders: the shipped sample, the generator's calibration, seeds and the draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyroute.errors import ConfigError, TraceError
from skyroute.world.traces.azure import DURATION_PERCENTILES, inverse_cdf
from skyroute.world.traces.callers import OriginModel
from skyroute.world.traces.spec import default_trace_dir, load_trace, parse_synthetic
from skyroute.world.traces.stats import summarise


@pytest.fixture(scope="module")
def default():  # type: ignore[no-untyped-def]
    return load_trace("default")


def test_default_is_the_shipped_azure_sample(default) -> None:  # type: ignore[no-untyped-def]
    assert len(default) == 828_978
    assert default.n_functions == 1000
    assert np.all(np.diff(default.timestamp_s) >= 0)
    assert default.timestamp_s.max() < 24 * 3600
    assert "Serverless in the Wild" in default.meta["citation"]


def test_expanded_durations_follow_each_functions_percentiles(default) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    table = pd.read_csv(next(default_trace_dir().glob("*durations*")))
    busiest = int(np.bincount(default.function).argmax())
    name = default.function_names[busiest]
    row = table[table["HashFunction"] == name].iloc[0]
    drawn = default.duration_ms[default.function == busiest]
    assert np.median(drawn) == pytest.approx(max(row["percentile_Average_50"], 1.0), rel=0.05)
    assert drawn.min() >= max(row["percentile_Average_0"], 1.0) - 1e-9
    assert drawn.max() <= row["percentile_Average_100"] + 1e-9


def test_same_seed_same_trace_other_seed_other_times() -> None:
    a = load_trace("default", seed=1)
    b = load_trace("default", seed=1)
    c = load_trace("default", seed=2)
    assert np.array_equal(a.timestamp_s, b.timestamp_s)
    assert np.array_equal(a.origin, b.origin)
    assert not np.array_equal(a.timestamp_s, c.timestamp_s)


def test_synthetic_generator_matches_the_sample_calibration(default) -> None:  # type: ignore[no-untyped-def]
    sample = summarise(default)
    synthetic = summarise(load_trace("synthetic:functions=1000,days=1,seed=4"))
    for key, tolerance in (
        ("log10_daily_invocations_mean", 0.2),
        ("log10_daily_invocations_sd", 0.2),
        ("memory_mb_p50", 25.0),
    ):
        assert abs(float(synthetic[key]) - float(sample[key])) < tolerance, key
    assert float(synthetic["hourly_max_over_mean"]) > 1.1  # a visible diurnal peak


def test_origins_follow_the_configured_model() -> None:
    model = OriginModel(weights={"aws:us-east-1": 1.0, "gcp:europe-west1": 1.0}, home_share=0.5)
    trace = load_trace("synthetic:functions=50,days=1,seed=1", origins=model)
    assert set(trace.origin_names) == {"aws:us-east-1", "gcp:europe-west1"}
    share = np.bincount(trace.origin, minlength=2) / len(trace)
    assert (share > 0.05).all()


def test_bad_origin_model_and_synthetic_specs() -> None:
    with pytest.raises(ConfigError):
        OriginModel(weights={"aws:us-east-1": -1.0})
    with pytest.raises(TraceError, match="out of range"):
        load_trace("synthetic:functions=0")
    with pytest.raises(TraceError, match="integer"):
        parse_synthetic("functions=ten")
    with pytest.raises(TraceError, match="names no path"):
        load_trace("csv:")


def test_azure2021_fixture_loads_with_drawn_memory() -> None:
    trace = load_trace(f"azure2021:{default_trace_dir() / 'azure2021_invocations_sample199.csv'}")
    assert len(trace) == 199
    assert (trace.memory_mb > 0).all() and (trace.duration_ms >= 1.0).all()


@given(
    st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=7, max_size=7),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50),
)
def test_inverse_cdf_is_monotone_and_stays_within_the_percentiles(
    values: list[float], u: list[float]
) -> None:
    table = np.sort(np.asarray(values))[None, :]
    probs = np.asarray(list(DURATION_PERCENTILES.values()))
    draws_u = np.sort(np.asarray(u))
    drawn = inverse_cdf(table, probs, np.zeros(len(u), dtype=np.intp), draws_u)
    assert np.all(np.diff(drawn) >= -1e-9 * max(1.0, table.max()))
    assert drawn.min() >= table.min() - 1e-9 and drawn.max() <= table.max() + 1e-9
