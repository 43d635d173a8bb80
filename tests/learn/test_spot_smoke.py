"""Spot models at a tiny budget: train, export, verify, reload, predict as in memory."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skyroute.bundles import read_bundle
from skyroute.cli.main import app
from skyroute.learn.spot import SpotRun, train_spot
from skyroute.learn.spot_data import SpotConfig
from skyroute.market.spot_features import (
    INTERRUPTION_FEATURES,
    PRICE_FEATURES,
    PRICE_HORIZON_HOURS,
)

TINY = SpotConfig(
    until=date(2026, 10, 31),
    days=21,
    pools=300,
    launch_every_hours=1,
    rounds=60,
    price_rounds=60,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SpotRun, Path]:
    out = tmp_path_factory.mktemp("spot")
    return train_spot(TINY, out), out


def test_bundles_verify_and_predict_exactly_like_the_models_in_memory(
    run: tuple[SpotRun, Path],
) -> None:
    result, out = run
    interruption = read_bundle(out / "spot-interruption")
    m = interruption.manifest
    assert (m.kind, m.format) == ("spot.interruption", "xgboost-json")
    assert list(m.features) == list(INTERRUPTION_FEATURES)
    assert m.trained_until == result.report["trained_until"] < TINY.until.isoformat()
    assert m.params["horizon_hours"] == 24 and m.params["label"]["beta_rise"] > 0
    x = result.interruption_test.x
    from_bundle = interruption.predictor().predict(x)
    assert from_bundle.shape == (len(x),)
    assert np.array_equal(from_bundle, result.interruption.inplace_predict(x).astype(np.float64))
    assert ((from_bundle > 0) & (from_bundle < 1)).all()

    price = read_bundle(out / "spot-price")
    assert price.manifest.kind == "spot.price"
    assert list(price.manifest.features) == list(PRICE_FEATURES)
    assert price.manifest.params["price_horizon_hours"] == PRICE_HORIZON_HOURS
    x = result.price_test.x
    assert np.array_equal(
        price.predictor().predict(x), result.price.inplace_predict(x).astype(np.float64)
    )
    for name in ("report.json", "reliability.png", "price_forecast.png"):
        assert (out / name).stat().st_size > 0


def test_held_out_features_are_finite(run: tuple[SpotRun, Path]) -> None:
    result, _ = run
    assert np.isfinite(result.interruption_test.x).all()
    assert np.isfinite(result.price_test.x).all()


def test_the_calibrated_model_beats_the_base_rate_on_held_out_launches(
    run: tuple[SpotRun, Path],
) -> None:
    report = json.loads((run[1] / "report.json").read_text())["interruption"]
    model, base = report["model"], report["baselines"]["base_rate"]
    assert model["brier"] < base["brier"]
    assert model["mse_vs_true_probability"] < base["mse_vs_true_probability"]
    assert model["roc_auc"] > 0.6
    assert set(report["baselines"]) == {"bucket_midpoint_hazard", "base_rate"}
    assert len(report["reliability"]) == 10
    assert report["calibration"]["fold_max_abs_error"] < 1e-5


def test_the_price_report_holds_both_baselines_and_beats_the_last_value(
    run: tuple[SpotRun, Path],
) -> None:
    report = json.loads((run[1] / "report.json").read_text())["price"]
    assert set(report["baselines"]) == {"last_value", "seasonal_24h"}
    for scores in (report["model"], *report["baselines"].values()):
        assert scores["mae_usd"] > 0 and 0 < scores["mape"] < 1
    assert report["model"]["mape"] < report["baselines"]["last_value"]["mape"]


def test_the_bamboo_check_reports_both_rates(run: tuple[SpotRun, Path]) -> None:
    check = run[0].report["bamboo_check"]
    assert {c["instance_type"] for c in check} == {"p2.xlarge", "g4dn.xlarge"}
    for c in check:
        assert c["observed_per_instance_hour"] > 0 and c["simulated_mean_hazard_per_hour"] > 0


def test_the_same_seed_gives_the_same_models_and_metrics(
    run: tuple[SpotRun, Path], tmp_path: Path
) -> None:
    first, out = run
    again = train_spot(TINY, tmp_path)
    for key in ("interruption", "price", "bamboo_check"):
        assert again.report[key] == first.report[key]
    for bundle in ("spot-interruption", "spot-price"):
        files = [read_bundle(d / bundle).manifest.files for d in (out, tmp_path)]
        assert files[0] == files[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "13"], "--days 13 is too short"),
        (["--until", "2999-01-01"], "is not over yet"),
        (["--until", "yesterday"], "is not a date"),
        (["--rounds", "-5"], "--rounds -5 is impossible"),
        (["--price-rounds", "0"], "--price-rounds 0 is impossible"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_leaves_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "spot"
    result = CliRunner().invoke(app, ["train", "spot", "--out", str(out), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_command_writes_bundles_report_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "spot"
    args = ["--until", "2026-10-31", "--days", "14", "--pools", "120", "--rounds", "10"]
    result = CliRunner().invoke(
        app, ["train", "spot", "--out", str(out), *args, "--price-rounds", "10"]
    )
    assert result.exit_code == 0, result.output
    assert "Brier" in result.output and "last value" in result.output
    assert {p.name for p in out.iterdir()} == {
        "spot-interruption", "spot-price", "report.json", "reliability.png", "price_forecast.png",
    }  # fmt: skip
