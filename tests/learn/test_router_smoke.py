"""Router: dataset with counterfactual labels, four families, the chosen model as a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skyroute.bundles import read_bundle
from skyroute.learn.dataset import FEATURES, build_dataset
from skyroute.learn.router_pipeline import train_router
from skyroute.world.catalog.loader import load_catalog
from skyroute.world.model import build_world
from skyroute.world.traces.spec import load_trace

SPEC = "synthetic:functions=40,days=1,seed=6"


def test_dataset_has_features_counterfactuals_and_a_label_with_variance() -> None:
    trace = load_trace(SPEC)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    frame = build_dataset(trace, world)
    assert len(frame) == len(trace)
    assert set(FEATURES) <= set(frame.columns)
    assert np.isfinite(frame[list(FEATURES)].to_numpy()).all()
    assert (frame["label_container"] == (frame["ct_objective"] < frame["fn_objective"])).all()
    # Not a lookup table: the same function gets both labels at different times.
    mixed = frame.groupby("function")["label_container"].nunique()
    assert (mixed > 1).any()
    # No look-ahead: a function's first call has seen no earlier calls.
    first = frame.groupby("function")["timestamp_s"].idxmin()
    assert (frame.loc[first, "log_calls_60m"] == 0).all()


def test_router_trains_four_families_and_exports_a_verified_bundle(tmp_path: Path) -> None:
    summary = train_router(SPEC, tmp_path, seed=0)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["families"]) == {"random_forest", "xgboost", "lightgbm", "mlp"}
    assert summary["chosen"] in metrics["families"]
    assert (
        abs(sum(metrics["importance"].values()) - 1.0) < 1e-6
        or max(metrics["importance"].values()) == 0
    )
    for name in ("report.md", "importance.png", "shap_summary.png"):
        assert (tmp_path / name).stat().st_size > 0
    bundle = read_bundle(tmp_path / "router")
    assert bundle.manifest.kind == "router.platform"
    assert list(bundle.manifest.features) == list(FEATURES)
    out = np.asarray(bundle.predictor().predict(np.zeros((3, len(FEATURES)), dtype=np.float32)))
    assert out.shape[0] == 3 and np.isfinite(out).all()
    assert set(metrics["simulator"]["policies"]) == {"function-only", "container-only", "router"}


def test_the_server_routes_with_the_trained_router(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from apiclient import make_tenant
    from skyroute.bundles import pack_bundle
    from skyroute.serve.app import create_app
    from skyroute.serve.settings import Settings

    train_router(SPEC, tmp_path / "run", seed=0)
    archive = pack_bundle(tmp_path / "run" / "router", tmp_path / "router.zip")
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
        assert body["platform"] in {"function", "container"}
        assert 0.0 <= body["p_container"] <= 1.0 and body["model_version"] == "router@1"
        features.pop("gap_cv")
        missing = client.post(
            "/api/v1/ml/route", json={"features": features}, headers=tenant.headers
        )
        assert missing.status_code == 422
        assert missing.json()["error"]["code"] == "missing_features"
        assert "gap_cv" in missing.json()["error"]["message"]
