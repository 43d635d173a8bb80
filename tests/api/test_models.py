"""Models through the real app: upload, list, activate, A/B, download, delete, bad uploads."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apiclient import TenantClient, decide_body
from bundlemaker import mlp_bundle
from skyroute.bundles import pack_bundle
from skyroute.bundles.verify import sha256_of
from skyroute.serve.settings import Settings


def upload(tenant: TenantClient, archive: Path, name: str, version: str, **form: str) -> Any:
    with archive.open("rb") as handle:
        return tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": name, "version": version, **form},
            files={"file": (archive.name, handle, "application/zip")},
        )


def strategic_zip(tmp_path: Path, version: str, bias: list[float] | None = None) -> Path:
    folder = mlp_bundle(tmp_path / f"strategic-{version}", n_in=50, version=version, bias=bias)
    return pack_bundle(folder, tmp_path / f"strategic-{version}.zip")


def test_upload_list_activate_details_download_delete(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path, settings: Settings
) -> None:
    response = upload(tenant_a, strategic_zip(tmp_path, "1"), "strat", "1")
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "placement.strategic"
    rows = tenant_a.get("/api/v1/ml/models/list").json()  # type: ignore[attr-defined]
    assert [(r["model_id"], r["version"], r["active"]) for r in rows] == [("strat", "1", False)]
    assert rows[0]["trained_until"] == "2026-10-31"
    activated: Any = tenant_a.post(
        "/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"}
    )
    assert activated.status_code == 200, activated.text
    assert client.get("/readyz").status_code == 200
    details = tenant_a.get("/api/v1/ml/models/strat").json()  # type: ignore[attr-defined]
    assert details["versions"][0]["manifest"]["kind"] == "placement.strategic"
    assert details["history"][0]["version"] == "1" and details["history"][0]["ended_at"] is None
    download: Any = tenant_a.get("/api/v1/ml/models/strat/download", params={"version": "1"})
    assert download.status_code == 200 and download.content[:2] == b"PK"
    deleted: Any = tenant_a.delete("/api/v1/ml/models/strat")
    assert deleted.json()["deleted_versions"] == 1
    assert tenant_a.get("/api/v1/ml/models/list").json() == []  # type: ignore[attr-defined]
    assert not any((settings.model_upload_dir / tenant_a.tenant_id / "strat").iterdir())


def test_hierarchical_engine_uses_the_active_model_and_ab_split_is_70_30(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path
) -> None:
    for version in ("1", "2"):
        assert (
            upload(tenant_a, strategic_zip(tmp_path, version), "strat", version).status_code == 201
        )
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    tenant_a.post("/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"})
    one: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert one.status_code == 200, one.text
    assert one.json()["model_versions"] == {"placement.strategic": "strat@1"}
    assert "placement.tactical: no active model, greedy" in one.json()["explanation"]
    split: Any = tenant_a.post(
        "/api/v1/ml/models/split",
        json={
            "model_id": "strat",
            "versions": [{"version": "1", "weight": 70}, {"version": "2", "weight": 30}],
        },
    )
    assert split.status_code == 200, split.text
    seen: Counter[str] = Counter()
    for start in range(0, 10_000, 2_000):
        batch = {
            "requests": [
                {**decide_body(id=f"f{i % 50}"), "caller_key": f"caller-{i}"}
                for i in range(start, start + 2_000)
            ]
        }
        response: Any = tenant_a.post("/api/v1/ml/decide/batch", json=batch)
        assert response.status_code == 200, response.text[:300]
        seen.update(
            d["model_versions"]["placement.strategic"] for d in response.json()["decisions"]
        )
    share = seen["strat@1"] / sum(seen.values())
    assert abs(share - 0.70) <= 0.02, seen
    # Sticky: the same caller key lands on the same version every time.
    again = [
        tenant_a.post("/api/v1/ml/decide", json={**decide_body(), "caller_key": "caller-7"}).json()[  # type: ignore[attr-defined]
            "model_versions"
        ]["placement.strategic"]
        for _ in range(3)
    ]
    assert len(set(again)) == 1
    history = tenant_a.get("/api/v1/ml/models/strat").json()["history"]  # type: ignore[attr-defined]
    assert [h["ended_at"] is None for h in history] == [False, True, True]


def _pickle_zip(tmp_path: Path, marker: Path) -> Path:
    class Marker:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (Path.write_text, (str(marker), "pwned"))  # type: ignore[return-value]

    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(pickle.dumps(Marker()))
    manifest = {
        "name": "evil", "version": "1", "kind": "placement.strategic", "format": "onnx",
        "trained_until": "2026-10-31", "created_at": "2026-11-01",
        "inputs": [{"name": "x", "shape": [-1, 50]}], "outputs": [{"name": "y", "shape": [-1, 3]}],
        "files": {"model.onnx": sha256_of(folder / "model.onnx")}, "model_file": "model.onnx",
    }  # fmt: skip
    (folder / "bundle.json").write_text(json.dumps(manifest))
    return pack_bundle(folder, tmp_path / "evil.zip")


def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path, settings: Settings
) -> None:
    marker = tmp_path / "MARKER"
    good = strategic_zip(tmp_path, "1")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:200])
    cases = [
        (_pickle_zip(tmp_path, marker), "evil", "1", 422, "bundle_unsafe"),
        (truncated, "strat", "1", 422, "bundle_invalid"),
        (good, "../../etc", "1", 422, "invalid_name"),
    ]
    for archive, name, version, status, code in cases:
        response = upload(tenant_a, archive, name, version)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    mismatch = upload(tenant_a, good, "strat", "1", trained_until="2025-01-01")
    assert mismatch.status_code == 422 and "trained_until" in mismatch.json()["error"]["message"]
    assert not marker.exists()
    assert tenant_a.get("/api/v1/ml/models/list").json() == []  # type: ignore[attr-defined]
    stored = [p for p in settings.model_upload_dir.rglob("*") if p.is_file()]
    assert stored == []
    # ...and the same upload then succeeds: nothing half-stored blocks it.
    assert upload(tenant_a, good, "strat", "1").status_code == 201


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_oversized_upload_is_refused(tmp_path: Path, database_url: str) -> None:
    from apiclient import make_tenant
    from skyroute.serve.app import create_app

    small = Settings(
        data_dir=tmp_path / "d",
        database_url=database_url,
        model_upload_dir=tmp_path / "m",
        admin_token="admin-secret-for-tests",
        max_upload_mb=1,
    )
    with TestClient(create_app(small)) as app_client:
        tenant = make_tenant(app_client, "big")
        blob = tmp_path / "big.zip"
        blob.write_bytes(b"\0" * (2 << 20))
        response = upload(tenant, blob, "big", "1")
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
