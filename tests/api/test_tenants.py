"""Tenant isolation: tenant B's key on every tenant-A resource is refused and reveals nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from apiclient import TenantClient, decide_body
from bundlemaker import mlp_bundle
from skyroute.bundles import pack_bundle


def test_a_tenant_sees_only_its_own_decisions_and_selection(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    selected: Any = tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "rules"})
    assert selected.status_code == 200
    decided: Any = tenant_a.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Idempotency-Key": "shared-key"}
    )
    assert decided.status_code == 200 and decided.json()["engine"] == "rules"
    # B has selected nothing: A's selection does not leak into B's decisions (B gets greedy).
    response: Any = tenant_b.post("/api/v1/ml/decide", json=decide_body())
    assert response.status_code == 200
    assert response.json()["engine"] == "greedy"
    # The same idempotency key in B's namespace is a new decision, not A's stored one.
    other: Any = tenant_b.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Idempotency-Key": "shared-key"}
    )
    assert other.status_code == 200
    assert other.json()["decision_id"] != decided.json()["decision_id"]
    listed: Any = tenant_b.get("/api/v1/ml/engines/list")
    assert [e["engine_id"] for e in listed.json() if e["selected"]] == ["greedy"]


def test_tenant_b_is_refused_on_every_tenant_a_resource(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient, tmp_path: Path
) -> None:
    archive = pack_bundle(mlp_bundle(tmp_path / "s", n_in=50), tmp_path / "s.zip")
    with archive.open("rb") as handle:
        uploaded: Any = tenant_a.post(
            "/api/v1/ml/models/upload",
            data={"name": "secret-model", "version": "1"},
            files={"file": ("s.zip", handle, "application/zip")},
        )
    assert uploaded.status_code == 201, uploaded.text
    tenant_a.post("/api/v1/ml/models/activate", json={"model_id": "secret-model", "version": "1"})
    source = (
        "NAME='mine'\nVERSION='1'\nDESCRIPTION='a'\nINPUT_SCHEMA={}\nOUTPUT_SCHEMA={}\n"
        "def decide(r, c):\n    return {}\n"
    )
    engine: Any = tenant_a.post(
        "/api/v1/ml/engines/upload", files={"file": ("e.py", io.BytesIO(source.encode()))}
    )
    engine_id = engine.json()["engine_id"]

    activate = {"model_id": "secret-model", "version": "1"}
    split = {"model_id": "secret-model", "versions": [{"version": "1", "weight": 1}]}
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("get", "/api/v1/ml/models/secret-model", {}),
        ("get", "/api/v1/ml/models/secret-model/download?version=1", {}),
        ("post", "/api/v1/ml/models/activate", {"json": activate}),
        ("post", "/api/v1/ml/models/split", {"json": split}),
        ("delete", "/api/v1/ml/models/secret-model", {}),
        ("get", f"/api/v1/ml/engines/{engine_id}/metadata", {}),
        ("post", f"/api/v1/ml/engines/{engine_id}/test", {"json": {"request": {}}}),
        ("post", "/api/v1/ml/engines/select", {"json": {"engine_id": engine_id}}),
    ]  # fmt: skip
    ghost = "00000000-0000-0000-0000-000000000000"
    for method, url, kwargs in attempts:
        response: Any = getattr(tenant_b, method)(url, **kwargs)
        assert response.status_code == 404, (url, response.text)
        # Indistinguishable from a resource that does not exist at all: nothing to infer.
        swap = json.dumps(kwargs).replace("secret-model", "ghost").replace(engine_id, ghost)
        absent: Any = getattr(tenant_b, method)(
            url.replace("secret-model", "ghost").replace(engine_id, ghost), **json.loads(swap)
        )
        assert absent.status_code == 404
        same = response.text.replace("secret-model", "ghost").replace(engine_id, ghost)
        assert same == absent.text, (url, response.text, absent.text)
    assert tenant_b.get("/api/v1/ml/models/list").json() == []  # type: ignore[attr-defined]
    b_engines = tenant_b.get("/api/v1/ml/engines/list").json()  # type: ignore[attr-defined]
    assert engine_id not in {e["engine_id"] for e in b_engines}
    # B's hierarchical decisions never use A's active model.
    tenant_b.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    decided: Any = tenant_b.post("/api/v1/ml/decide", json=decide_body())
    assert decided.json()["model_versions"] == {}
    # A still has everything.
    assert tenant_a.get("/api/v1/ml/models/secret-model").status_code == 200  # type: ignore[attr-defined]
