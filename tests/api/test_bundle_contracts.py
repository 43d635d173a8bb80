"""Placement bundles carry their observation contract; a model failing at predict time is a
flagged fallback, never an error for the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from apiclient import TenantClient, decide_body
from bundlemaker import mlp_bundle
from skyroute.bundles import pack_bundle, write_bundle
from skyroute.bundles.errors import BundleError
from skyroute.serve.tables import ModelVersion
from skyroute.world.observations import strategic_contract, tactical_contract
from skyroute.world.providers import PROVIDER_ORDER

RETRAIN = "skyroute train hierarchy"


def _upload(tenant: TenantClient, folder: Path, name: str, version: str = "1") -> Any:
    archive = pack_bundle(folder, folder.with_suffix(".zip"))
    with archive.open("rb") as handle:
        return tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": name, "version": version},
            files={"file": (archive.name, handle, "application/zip")},
        )


def _bundle(
    out: Path, kind: str, features: tuple[str, ...], observation: dict[str, Any] | None
) -> Path:
    """A placement MLP whose recorded observation is whatever the test says."""
    from safetensors.numpy import save_file

    n_in, n_out = len(features), (3 if kind == "placement.strategic" else 8)
    rng = np.random.default_rng(0)
    model = out.parent / f"{out.name}.safetensors"
    save_file(
        {
            "layers.0.weight": rng.normal(size=(n_out, n_in)).astype(np.float32),
            "layers.0.bias": np.zeros(n_out, dtype=np.float32),
        },
        str(model),
    )
    write_bundle(
        out, name="mlp", version="1", kind=kind, format="safetensors", trained_until="2026-10-31",
        model_file=model, inputs=[{"name": "x", "shape": [-1, n_in]}],
        outputs=[{"name": "y", "shape": [-1, n_out]}], features=features, observation=observation,
    )  # fmt: skip
    return out


def _refused(response: Any, *fragments: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "bundle_invalid"
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    assert RETRAIN in error["fix"]


def test_a_matching_placement_bundle_is_accepted_and_serves(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    strategic = _upload(tenant_a, mlp_bundle(tmp_path / "s", n_in=50), "strat")
    tactical = _upload(
        tenant_a, mlp_bundle(tmp_path / "t", kind="placement.tactical", n_in=115, n_out=8), "tac"
    )
    assert strategic.status_code == 201, strategic.text
    assert tactical.status_code == 201, tactical.text
    details = tenant_a.get("/api/v1/ml/models/tac").json()  # type: ignore[attr-defined]
    manifest = details["versions"][0]["manifest"]
    assert manifest["observation"] == {"name": "tactical", "version": 2}
    assert tuple(manifest["features"]) == tactical_contract().features
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    for model_id in ("strat", "tac"):
        activated: Any = tenant_a.post(
            "/api/v1/ml/models/activate", json={"model_id": model_id, "version": "1"}
        )
        assert activated.status_code == 200, activated.text
    decided: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert decided.status_code == 200, decided.text
    assert decided.json()["fallback"] is False
    assert decided.json()["model_versions"] == {
        "placement.strategic": "strat@1",
        "placement.tactical": "tac@1",
    }


def test_a_bundle_from_before_contracts_is_refused_at_upload(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    old = mlp_bundle(tmp_path / "old", n_in=50, contract=False)
    _refused(_upload(tenant_a, old, "strat"), "no observation contract", "strategic observation v2")
    assert tenant_a.get("/api/v1/ml/models/list").json() == []  # type: ignore[attr-defined]


def test_a_bundle_of_another_width_is_refused_at_upload(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    # The tactical layout before it grew a fifth feature per action: 6 + 4 x 8 = 38 columns.
    current = tactical_contract()
    narrow = (*current.features[:6], *(f"a{a}.f{j}" for a in range(8) for j in range(4)))
    folder = _bundle(tmp_path / "narrow", "placement.tactical", narrow, current.manifest_entry())
    _refused(_upload(tenant_a, folder, "tac"), "lists 38 features", "(115 features)")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"version": 3}, ("strategic observation v3", "this server builds the strategic")),
        ({"name": "tactical"}, ("'tactical' observation",)),
        ({"rename": 7}, ("column 7 is 'renamed'",)),
    ],
    ids=["version", "name", "feature-list"],
)
def test_a_bundle_with_another_observation_is_refused_at_upload(
    tenant_a: TenantClient, tmp_path: Path, change: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    contract = strategic_contract(PROVIDER_ORDER)
    features = list(contract.features)
    change = dict(change)  # the parameter is shared by both databases' runs
    if "rename" in change:
        features[change.pop("rename")] = "renamed"
    observation = contract.manifest_entry() | change
    folder = _bundle(tmp_path / "s", "placement.strategic", tuple(features), observation)
    _refused(_upload(tenant_a, folder, "strat"), *fragments)


def _forget_contract(client: TestClient, model_id: str) -> None:
    """What a row stored before observation contracts existed looks like."""
    state = client.app.state.skyroute  # type: ignore[attr-defined]
    with state.sessions() as session:
        row = session.query(ModelVersion).filter_by(model_id=model_id).one()
        manifest = {k: v for k, v in row.manifest.items() if k != "observation"}
        session.execute(
            update(ModelVersion).where(ModelVersion.id == row.id).values(manifest=manifest)
        )
        session.commit()


def test_activation_refuses_a_stored_bundle_without_the_contract(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path
) -> None:
    assert _upload(tenant_a, mlp_bundle(tmp_path / "s", n_in=50), "strat").status_code == 201
    _forget_contract(client, "strat")
    activated: Any = tenant_a.post(
        "/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"}
    )
    _refused(activated, "strat@1", "no observation contract")
    split: Any = tenant_a.post(
        "/api/v1/ml/models/split",
        json={"model_id": "strat", "versions": [{"version": "1", "weight": 1}]},
    )
    _refused(split, "no observation contract")


def test_an_active_bundle_without_the_contract_gives_flagged_fallbacks(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path
) -> None:
    assert _upload(tenant_a, mlp_bundle(tmp_path / "s", n_in=50), "strat").status_code == 201
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    tenant_a.post("/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"})
    _forget_contract(client, "strat")  # e.g. activated before the server was upgraded
    decided: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["fallback"] is True
    assert "placement.strategic model strat@1 cannot be used" in body["fallback_reason"]
    assert "no observation contract" in body["fallback_reason"]


class Exploding:
    """A loaded model that raises when asked, as a model whose input changed would."""

    n_features = 50

    def predict(self, x: Any) -> Any:
        raise BundleError("the model takes a (n, 17) float32 matrix", "pass the right width")


class WrongShape:
    n_features = 50

    def predict(self, x: Any) -> Any:
        return np.zeros((len(x), 2))


class NotFinite:
    n_features = 50

    def predict(self, x: Any) -> Any:
        return np.full((len(x), 3), np.nan)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Exploding(), "BundleError: the model takes a (n, 17) float32 matrix"),
        (WrongShape(), "scores of shape (1, 2) for 1 rows"),
        (NotFinite(), "non-finite scores"),
    ],
    ids=["raises", "wrong-shape", "nan"],
)
def test_a_model_failing_at_predict_time_is_a_flagged_fallback(
    client: TestClient,
    tenant_a: TenantClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: Any,
    reason: str,
) -> None:
    assert _upload(tenant_a, mlp_bundle(tmp_path / "s", n_in=50), "strat").status_code == 201
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    tenant_a.post("/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"})
    target = "skyroute.serve.engines.hierarchical.predictor_for"
    monkeypatch.setattr(target, lambda state, row: model)
    decided: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["fallback"] is True
    assert body["fallback_reason"].startswith(
        "engine hierarchical: placement.strategic model strat@1 failed at predict time"
    )
    assert reason in body["fallback_reason"]
    assert body["placement"]["memory_mb"] >= 180  # greedy's answer, a real placement
    batch: Any = tenant_a.post(
        "/api/v1/ml/decide/batch", json={"requests": [decide_body(id=f"f{i}") for i in range(5)]}
    )
    assert batch.status_code == 200, batch.text
    assert all(d["fallback"] for d in batch.json()["decisions"])
    metrics = client.get("/metrics").text
    assert 'skyroute_engine_fallbacks_total{engine="hierarchical",reason="model"}' in metrics
