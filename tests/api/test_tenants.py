"""Tenant isolation: tenant B's key on every tenant-A resource is refused and reveals nothing."""

from __future__ import annotations

from typing import Any

from apiclient import TenantClient, decide_body
from fastapi.testclient import TestClient


def test_a_tenant_sees_only_its_own_decisions_and_selection(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    selected: Any = tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "greedy"})
    assert selected.status_code == 200
    decided: Any = tenant_a.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Idempotency-Key": "shared-key"}
    )
    assert decided.status_code == 200
    # B has selected nothing: A's selection does not leak into B's decisions.
    response: Any = tenant_b.post("/api/v1/ml/decide", json=decide_body())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_engine"
    # The same idempotency key in B's namespace is a new decision, not A's stored one.
    tenant_b.post("/api/v1/ml/engines/select", json={"engine_id": "greedy"})
    other: Any = tenant_b.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Idempotency-Key": "shared-key"}
    )
    assert other.status_code == 200
    assert other.json()["decision_id"] != decided.json()["decision_id"]
    listed: Any = tenant_b.get("/api/v1/ml/engines/list")
    assert all(not e["selected"] or e["engine_id"] == "greedy" for e in listed.json())
