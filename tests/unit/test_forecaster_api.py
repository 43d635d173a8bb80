"""The forecaster API: 12 minutes ahead from a bundle, and clear errors for unusable histories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bundlemaker import mlp_bundle
from skyroute.bundles import BundleError, read_bundle
from skyroute.bundles.forecaster import HORIZON, Forecaster
from skyroute.bundles.manifest import OUTPUT_WIDTHS
from skyroute.errors import ConfigError


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MLP standing in for the LSTM: 12 minutes in, 12 out."""
    out = tmp_path_factory.mktemp("forecast") / "forecast"
    return mlp_bundle(out, kind="forecast.load", n_in=12, n_out=HORIZON, bias=[5.0] * HORIZON)


def test_one_history_gives_twelve_minutes_and_a_batch_twelve_per_row(bundle: Path) -> None:
    forecaster = Forecaster.from_bundle(bundle)
    history = np.arange(12, dtype=np.float64)
    one = forecaster.forecast(history)
    assert one.shape == (HORIZON,) and (one >= 0).all()
    expected = read_bundle(bundle).predictor().predict(history[None, :].astype(np.float32))[0]
    np.testing.assert_allclose(one, np.maximum(expected, 0.0), rtol=1e-6)
    batch = forecaster.forecast_batch(np.stack([history, history[::-1], np.zeros(12)]))
    assert batch.shape == (3, HORIZON)
    np.testing.assert_allclose(batch[0], one)


def test_a_longer_history_is_cut_to_its_last_window(bundle: Path) -> None:
    forecaster = Forecaster.from_bundle(bundle)
    long = np.arange(40, dtype=np.float64)
    np.testing.assert_allclose(forecaster.forecast(long), forecaster.forecast(long[-12:]))
    assert forecaster.forecast_batch(np.zeros((0, 20))).shape == (0, HORIZON)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (np.ones(11), "needs the last 12 minutes, got 11"),
        ([1.0] * 11 + [float("nan")], "NaN or infinity"),
        ([1.0] * 11 + [float("inf")], "NaN or infinity"),
        ([1.0] * 11 + [-1.0], "negative counts"),
        (np.ones((2, 12)), r"one function's history \(1-D\)"),
        (["a"] * 12, "not numeric"),
    ],
)
def test_unusable_histories_are_config_errors(bundle: Path, history: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        Forecaster.from_bundle(bundle).forecast(history)
    assert raised.value.fix


def test_a_batch_must_be_a_matrix(bundle: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[functions, minutes\] matrix"):
        Forecaster.from_bundle(bundle).forecast_batch(np.ones(12))


def test_one_step_and_other_bundles_are_refused(tmp_path: Path) -> None:
    one_step = mlp_bundle(tmp_path / "old", kind="forecast.load", n_in=12, n_out=1)
    with pytest.raises(BundleError, match="forecasts 1 minute"):
        Forecaster.from_bundle(one_step)
    router = mlp_bundle(tmp_path / "router", kind="router.platform", n_in=12, n_out=2)
    with pytest.raises(BundleError, match=r"router\.platform bundle, not forecast\.load"):
        Forecaster.from_bundle(router)


def test_the_bundle_format_accepts_twelve_step_and_one_step_forecasters() -> None:
    assert OUTPUT_WIDTHS["forecast.load"] == (1, HORIZON)
