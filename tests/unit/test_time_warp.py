"""Time-warp augmentation: a pure function over [n, steps] windows (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyroute.experiments.trainers.augment import time_warp

windows = st.tuples(st.integers(0, 6), st.integers(1, 40)).flatmap(
    lambda shape: arrays(
        np.float32, shape, elements=st.floats(0.0, 1e4, width=32, allow_subnormal=False)
    )
)
sigmas = st.floats(0.0, 1.0)
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=200, deadline=None)
@given(x=windows, sigma=sigmas, seed=seeds)
def test_shape_and_dtype_are_kept(x: np.ndarray, sigma: float, seed: int) -> None:
    out = time_warp(x, sigma, np.random.default_rng(seed))
    assert out.shape == x.shape and out.dtype == x.dtype


@settings(max_examples=200, deadline=None)
@given(x=windows, seed=seeds)
def test_sigma_zero_is_the_identity(x: np.ndarray, seed: int) -> None:
    assert np.array_equal(time_warp(x, 0.0, np.random.default_rng(seed)), x)


@settings(max_examples=200, deadline=None)
@given(x=windows, sigma=sigmas, seed=seeds)
def test_values_stay_within_each_rows_range(x: np.ndarray, sigma: float, seed: int) -> None:
    out = time_warp(x, sigma, np.random.default_rng(seed))
    if x.size:
        assert (out >= x.min(axis=1, keepdims=True)).all()
        assert (out <= x.max(axis=1, keepdims=True)).all()
        assert np.array_equal(out[:, 0], x[:, 0])  # the window's first minute stays put


def test_a_warp_moves_a_burst_in_time_without_inventing_levels() -> None:
    x = np.zeros((1, 30), dtype=np.float32)
    x[0, 10:13] = 50.0
    warped = [time_warp(x, 0.2, np.random.default_rng(seed)) for seed in range(20)]
    assert any(not np.array_equal(w, x) for w in warped)
    assert all(w.max() <= 50.0 and w.min() >= 0.0 for w in warped)
    # The same generator state gives the same warp (runs are reproducible).
    again = time_warp(x, 0.2, np.random.default_rng(3))
    assert np.array_equal(again, warped[3])


def test_a_negative_sigma_is_refused() -> None:
    with pytest.raises(ValueError, match="sigma"):
        time_warp(np.zeros((1, 5), dtype=np.float32), -0.1, np.random.default_rng(0))
