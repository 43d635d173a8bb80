"""Router: window dataset with counterfactual labels, a tiny-budget run, its bundle and server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skyroute.bundles import read_bundle
from skyroute.learn.config import RouterConfig
from skyroute.learn.dataset import FEATURE_SET, FEATURES, build_dataset, subsample_functions
from skyroute.learn.pipeline import load
from skyroute.learn.router_pipeline import holdout_cut, train_router
from skyroute.world.catalog.loader import load_catalog
from skyroute.world.model import build_world

SPEC = "synthetic:functions=40,days=1,seed=0"
MAX_ROWS = 1500


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("router")
    config = RouterConfig(trace=SPEC, max_rows=MAX_ROWS, families=("lightgbm", "mlp"))
    train_router(config, out)
    return out


def test_windows_carry_features_both_outcomes_and_a_label() -> None:
    trace = load(SPEC, 0)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    data = build_dataset(trace, world)
    frame = data.windows
    assert set(FEATURES) <= set(frame.columns)
    assert np.isfinite(frame[list(FEATURES)].to_numpy()).all()
    assert frame["n_calls"].sum() == len(trace) == len(data.row_of_call)
    assert (frame["label_container"] == (frame["ct_objective"] < frame["fn_objective"])).all()
    # Every call of a window runs on the window's platform: the rows are (function, window).
    assert not frame.duplicated(["function", "window"]).any()
    assert (frame["function"].to_numpy()[data.row_of_call] == trace.function).all()
    # Not a lookup table: some function has windows of both labels.
    assert (frame.groupby("function")["label_container"].nunique() > 1).any()
    # No look-ahead: a function's first window has seen no calls.
    first = frame.groupby("function")["window"].idxmin()
    assert (frame.loc[first, ["log_calls_prev", "log_calls_1h", "log_calls_6h"]] == 0).all().all()


def test_max_rows_keeps_whole_functions_within_the_budget() -> None:
    trace = load(SPEC, 0)
    small = subsample_functions(trace, 300, 15.0, seed=3)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    frame = build_dataset(small, world).windows
    assert 0 < len(frame) <= 300
    kept = np.unique(small.function)
    assert len(small) == np.isin(trace.function, kept).sum()
    assert (subsample_functions(trace, 300, 15.0, seed=3).function == small.function).all()


def test_a_tiny_run_reports_and_exports_the_chosen_model(small_run: Path) -> None:
    metrics = json.loads((small_run / "metrics.json").read_text())
    assert set(metrics["families"]) == {"lightgbm", "mlp"}
    assert metrics["dataset"]["windows"] <= MAX_ROWS
    assert set(metrics["simulator"]["policies"]) >= {"function-only", "container-only", "router"}
    report = (small_run / "report.md").read_text()
    for name in ("roc.png", "confusion_matrix.png", "importance.png", "shap_summary.png"):
        assert (small_run / name).stat().st_size > 0
        assert f"]({name})" in report
    assert set(metrics["shap_mean_abs"]) == set(FEATURES)

    from skyroute.cli.main import app

    verified = CliRunner().invoke(app, ["bundle", "verify", str(small_run / "router")])
    assert verified.exit_code == 0 and "ok: router 1" in verified.output, verified.output
    bundle = read_bundle(small_run / "router")
    manifest = bundle.manifest
    assert manifest.kind == "router.platform" and list(manifest.features) == list(FEATURES)
    assert manifest.params["family"] == metrics["chosen"]
    assert manifest.params["threshold"] == metrics["threshold"]
    assert manifest.params["window_min"] == 15.0 and manifest.params["feature_set"] == FEATURE_SET
    assert manifest.params["hyper_parameters"]
    assert {"numpy", "scikit-learn", "lightgbm"} <= set(manifest.libraries)
    assert manifest.data_fingerprint == metrics["dataset"]["fingerprint"]
    assert set(manifest.reference["features"]) == {
        "duration_ms", "memory_mb", "payload_kb", "rate_per_min",
    }  # fmt: skip

    # The bundle holds the evaluated model: its held-out accuracy is the report's.
    trace = subsample_functions(load(SPEC, 0), MAX_ROWS, 15.0, 0)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    data = build_dataset(trace, world)
    held = data.windows[data.windows["start_s"] >= holdout_cut(trace, 0.25, data.window_s)]
    out = np.asarray(bundle.predictor().predict(held[list(FEATURES)].to_numpy(np.float32)))
    p_container = out.reshape(len(held), -1)[:, -1]
    accuracy = np.mean((p_container >= 0.5) == held["label_container"].to_numpy())
    assert accuracy == pytest.approx(metrics["families"][metrics["chosen"]]["accuracy"], abs=1e-6)


def test_the_server_routes_with_the_trained_router(small_run: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from apiclient import make_tenant
    from skyroute.bundles import pack_bundle
    from skyroute.serve.app import create_app
    from skyroute.serve.settings import Settings

    archive = pack_bundle(small_run / "router", tmp_path / "router.zip")
    threshold = json.loads((small_run / "metrics.json").read_text())["threshold"]
    settings = Settings(
        data_dir=tmp_path / "d",
        model_upload_dir=tmp_path / "m",
        admin_token="admin-secret-for-tests",
    )
    with TestClient(create_app(settings)) as client:
        tenant = make_tenant(client, "router")
        with archive.open("rb") as handle:
            uploaded = client.post(
                "/api/v1/ml/models/upload",
                data={"name": "router", "version": "1"},
                files={"file": ("router.zip", handle, "application/zip")},
                headers=tenant.headers,
            )
        assert uploaded.status_code == 201, uploaded.text
        client.post(
            "/api/v1/ml/models/activate",
            json={"model_id": "router", "version": "1"},
            headers=tenant.headers,
        )
        features = dict.fromkeys(FEATURES, 0.5)
        routed = client.post(
            "/api/v1/ml/route", json={"features": features}, headers=tenant.headers
        )
        assert routed.status_code == 200, routed.text
        body = routed.json()
        assert 0.0 <= body["p_container"] <= 1.0 and body["model_version"] == "router@1"
        expected = "container" if body["p_container"] >= threshold else "function"
        assert body["platform"] == expected and not body["fallback"]
        features.pop("gap_cv")
        missing = client.post(
            "/api/v1/ml/route", json={"features": features}, headers=tenant.headers
        )
        assert missing.status_code == 422
        assert missing.json()["error"]["code"] == "missing_features"
        assert "gap_cv" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "router", "--families", "xgboost,lightgbn"], ["'lightgbn'", "'lightgbm'"]),
        (["train", "router", "--max-rows", "0"], ["max_rows=0 is impossible"]),
        (["dataset", "build", "--max-rows", "-1"], ["max_rows=-1 is impossible"]),
        (["train", "router", "--window-min", "0"], ["too short"]),
    ],
)
def test_bad_budgets_are_one_clear_line(
    args: list[str], needles: list[str], tmp_path: Path
) -> None:
    from skyroute.cli.main import app

    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    text = " ".join(result.output.split())
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.lstrip().startswith("error:"), result.output
    for needle in needles:
        assert needle in text, result.output
    assert not (tmp_path / "out").exists()
