"""Load forecaster data: windows of 12 minutes in and 12 out, and the baselines it is scored on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyroute.bundles.forecaster import HORIZON
from skyroute.errors import ConfigError
from skyroute.learn import forecast
from skyroute.learn.forecast_eval import (
    SEASON_MINUTES,
    last_value,
    score_horizons,
    seasonal,
    window_mean,
)

counts_matrices = arrays(
    np.float32,
    st.tuples(st.integers(1, 4), st.integers(30, 90)),
    elements=st.integers(0, 40).map(float),
)


@settings(max_examples=60, deadline=None)
@given(counts=counts_matrices, window=st.integers(1, 12), start=st.integers(0, 5))
def test_windows_are_the_counts_they_claim_to_be(
    counts: np.ndarray, window: int, start: int
) -> None:
    counts[:, 0] += forecast.MIN_CALLS  # every function busy
    stop = counts.shape[1]
    rows = forecast.windows(counts, window, start, stop, seed=0)
    per_function = stop - start - window - HORIZON + 1
    assert rows.x.shape == (counts.shape[0] * per_function, window)
    assert rows.y.shape == (rows.x.shape[0], HORIZON)
    assert rows.x.dtype == rows.y.dtype == np.float32
    steps_back, steps_ahead = np.arange(-window, 0), np.arange(HORIZON)
    np.testing.assert_array_equal(
        rows.x, counts[rows.row[:, None], rows.first[:, None] + steps_back]
    )
    np.testing.assert_array_equal(
        rows.y, counts[rows.row[:, None], rows.first[:, None] + steps_ahead]
    )
    assert rows.first.min() == start + window and rows.first.max() + HORIZON == stop


def test_sparse_functions_are_left_out_and_large_sets_subsampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = np.arange(600, dtype=np.float32).reshape(3, 200)
    counts[1] = 0.0  # fewer than MIN_CALLS calls
    rows = forecast.windows(counts, 12, 0, 200, seed=0)
    assert set(rows.row.tolist()) == {0, 2}
    monkeypatch.setattr(forecast, "MAX_WINDOWS", 50)
    small = forecast.windows(counts, 12, 0, 200, seed=0)
    assert small.x.shape == (50, 12) and small.y.shape == (50, HORIZON)
    np.testing.assert_array_equal(small.y[:, 0], counts[small.row, small.first])
    np.testing.assert_array_equal(small.x[:, -1], counts[small.row, small.first - 1])
    again = forecast.windows(counts, 12, 0, 200, seed=0)
    np.testing.assert_array_equal(small.first, again.first)  # the seed fixes the sample


def test_a_span_shorter_than_window_plus_horizon_is_refused() -> None:
    counts = np.full((2, 100), 5.0, dtype=np.float32)
    with pytest.raises(ConfigError, match="too small to train a load forecaster"):
        forecast.windows(counts, 12, 50, 50 + 12 + HORIZON - 1, seed=0)


@settings(max_examples=40, deadline=None)
@given(
    pattern=arrays(np.float32, SEASON_MINUTES, elements=st.integers(0, 500).map(float)),
    hours=st.integers(3, 5),
)
def test_seasonal_is_exact_on_an_hourly_pattern(pattern: np.ndarray, hours: int) -> None:
    counts = np.tile(pattern + forecast.MIN_CALLS, (2, hours))
    rows = forecast.windows(counts, 12, SEASON_MINUTES, counts.shape[1], seed=0)
    np.testing.assert_array_equal(seasonal(counts, rows), rows.y)


def test_seasonal_needs_an_hour_before_the_first_target() -> None:
    counts = np.full((1, 200), 5.0 + forecast.MIN_CALLS, dtype=np.float32)
    rows = forecast.windows(counts, 12, 0, 200, seed=0)
    with pytest.raises(ConfigError, match="needs 60 minutes before the first window"):
        seasonal(counts, rows)


@settings(max_examples=60, deadline=None)
@given(x=arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(1, 12)),
                elements=st.integers(0, 1000).map(float)))  # fmt: skip
def test_last_value_and_window_mean_repeat_over_the_horizon(x: np.ndarray) -> None:
    last, mean = last_value(x), window_mean(x)
    assert last.shape == mean.shape == (x.shape[0], HORIZON)
    np.testing.assert_array_equal(last, np.repeat(x[:, -1:], HORIZON, axis=1))
    np.testing.assert_allclose(mean[:, 5], x.mean(axis=1), rtol=1e-6)
    assert (mean.min(axis=1) == mean.max(axis=1)).all()


@settings(max_examples=60, deadline=None)
@given(base=arrays(np.float64, st.tuples(st.integers(2, 30), st.just(HORIZON)),
                   elements=st.integers(0, 10_000).map(float)))  # fmt: skip
def test_horizon_scores_of_a_perfect_and_of_the_mean_forecast(base: np.ndarray) -> None:
    y = base + np.arange(base.shape[0])[:, None]  # every horizon varies
    perfect = score_horizons(y, y)
    assert perfect.r2 == (1.0,) * HORIZON and perfect.rmse == (0.0,) * HORIZON
    flat = score_horizons(np.broadcast_to(y.mean(axis=0), y.shape), y)
    assert flat.r2 == pytest.approx((0.0,) * HORIZON, abs=1e-9)
    np.testing.assert_allclose(flat.rmse, y.std(axis=0), rtol=1e-9)
