"""Tiny-budget training of the 12-step load forecaster: train → ONNX bundle → Forecaster API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from skyroute.bundles import read_bundle
from skyroute.bundles.forecaster import HORIZON, Forecaster
from skyroute.learn import forecast
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.forecast_eval import BASELINES, MODEL, ForecastRun, fit_and_score

SPEC = "synthetic:functions=60,days=1,seed=4"
CONFIG = HierarchyConfig(trace=SPEC, lstm_epochs=2, lstm_hidden=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ForecastRun, Path]]:
    from skyroute.learn.hierarchy import export_layer
    from skyroute.learn.pipeline import held_out_functions, load, splits
    from skyroute.learn.seeding import seed_everything

    seed_everything(CONFIG.seed)
    trace = load(SPEC, CONFIG.seed)
    _, _, _, cut = splits(trace, CONFIG.holdout_hours)
    counts = forecast.minute_counts(trace, keep=~held_out_functions(trace))
    run = fit_and_score(counts, int(cut // 60), CONFIG)
    out = tmp_path_factory.mktemp("forecast")
    path = export_layer(
        out, name="forecast", kind="forecast.load", module=run.model, n_inputs=CONFIG.window,
        n_outputs=HORIZON, probe=run.test.x[:64], config=CONFIG, until="2026-11-01",
        data="test", metrics=run.metrics(),
    )  # fmt: skip
    yield run, path


def test_the_bundle_forecasts_twelve_minutes_as_pytorch_does(
    trained: tuple[ForecastRun, Path],
) -> None:
    run, path = trained
    forecaster = Forecaster.from_bundle(path)
    assert forecaster.window == CONFIG.window
    one = forecaster.forecast(run.test.x[0])
    assert one.shape == (HORIZON,) and np.isfinite(one).all() and (one >= 0).all()
    batch = forecaster.forecast_batch(run.test.x[:32])
    assert batch.shape == (32, HORIZON)
    np.testing.assert_allclose(batch, forecast.predict(run.model, run.test.x[:32]), atol=1e-3)


def test_scores_cover_every_horizon_for_the_model_and_each_baseline(
    trained: tuple[ForecastRun, Path],
) -> None:
    run, path = trained
    assert list(run.scores) == [MODEL, *BASELINES]
    for scores in run.scores.values():
        assert len(scores.r2) == len(scores.rmse) == HORIZON
        assert np.isfinite(scores.r2).all() and (np.asarray(scores.rmse) >= 0).all()
    metrics = read_bundle(path).manifest.metrics
    assert metrics["horizon"] == HORIZON
    assert metrics["held_out_hours"][MODEL]["r2"] == list(run.scores[MODEL].r2)
    assert run.test.y.shape == (metrics["held_out_windows"], HORIZON)


def test_the_report_writes_a_table_row_per_horizon_and_a_plot(
    trained: tuple[ForecastRun, Path], tmp_path: Path
) -> None:
    from skyroute.report.forecast import write_forecast_report

    run, _ = trained
    table, plot = write_forecast_report(tmp_path, run.scores, ["tiny run"], target=0.6)
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + HORIZON  # the header, then h = 1 .. 12
    assert rows[0].startswith("| h (min) | R² LSTM | R² last value |")
    assert plot.stat().st_size > 0
