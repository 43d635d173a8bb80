"""Engines through the real app: upload, inspect, test, select, and fallbacks that stay up."""

from __future__ import annotations

import io
import threading
from typing import Any

from fastapi.testclient import TestClient

from apiclient import TenantClient, decide_body
from skyroute.serve.engines import builtin_rules

HEADER = """
NAME = "{name}"
VERSION = "1"
DESCRIPTION = "test engine"
INPUT_SCHEMA = {{"type": "object"}}
OUTPUT_SCHEMA = {{"type": "object", "required": ["provider", "region", "memory_mb"]}}

def decide(request, config):
"""


def upload_engine(tenant: TenantClient, source: str) -> Any:
    return tenant.post(
        "/api/v1/ml/engines/upload",
        files={"file": ("engine.py", io.BytesIO(source.encode()), "text/x-python")},
    )


def test_uploaded_engine_decides_and_a_hanging_one_falls_back(
    client: TestClient, tenant_a: TenantClient
) -> None:
    good = HEADER.format(name="eu-only") + (
        "    return {'provider': 'gcp', 'region': 'europe-west1', 'memory_mb': 512,\n"
        "            'platform': 'function', 'purchase': 'on-demand', 'explanation': 'eu'}\n"
    )
    created = upload_engine(tenant_a, good)
    assert created.status_code == 201, created.text
    engine_id = created.json()["engine_id"]
    listed = tenant_a.get("/api/v1/ml/engines/list").json()  # type: ignore[attr-defined]
    assert {e["name"] for e in listed} >= {"greedy", "hierarchical", "rules", "eu-only"}
    meta = tenant_a.get(f"/api/v1/ml/engines/{engine_id}/metadata").json()  # type: ignore[attr-defined]
    assert meta["output_schema"]["required"] == ["provider", "region", "memory_mb"]
    tried: Any = tenant_a.post(
        f"/api/v1/ml/engines/{engine_id}/test", json={"request": decide_body()}
    )
    assert tried.json()["ok"] is True and tried.json()["output"]["region"] == "europe-west1"
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": engine_id})
    decided: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["engine"] == "eu-only" and body["fallback"] is False
    assert body["placement"]["region"] == "europe-west1"
    assert body["explanation"].startswith("eu; checked memory ≥ 180 MB")

    hang = HEADER.format(name="hang") + "    while True:\n        pass\n"
    hang_id = upload_engine(tenant_a, hang).json()["engine_id"]
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": hang_id})
    answers: list[Any] = []
    thread = threading.Thread(
        target=lambda: answers.append(tenant_a.post("/api/v1/ml/decide", json=decide_body()))
    )
    thread.start()
    assert client.get("/healthz").status_code == 200  # the server answers meanwhile
    thread.join()
    fallback = answers[0].json()
    assert answers[0].status_code == 200
    assert fallback["fallback"] is True and "timeout" in fallback["fallback_reason"]
    assert fallback["engine"] == "hang"
    metrics = client.get("/metrics").text
    # Tenants' engine names never become label values; uploads count under one label.
    assert 'skyroute_engine_fallbacks_total{engine="uploaded",reason="timeout"}' in metrics
    assert "hang" not in metrics


def test_rules_engine_runs_in_the_sandbox(client: TestClient, tenant_a: TenantClient) -> None:
    tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "rules"})
    body: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(origin="azure:northeurope"))
    assert body.status_code == 200, body.text
    decision = body.json()
    assert decision["engine"] == "rules" and decision["engine_version"] == builtin_rules.VERSION
    assert decision["placement"]["provider"] == "azure"
    assert decision["placement"]["region"] == "northeurope"
    assert decision["fallback"] is False


def test_broken_engine_modules_are_refused(client: TestClient, tenant_a: TenantClient) -> None:
    for source, needle in (
        ("def decide(:\n", "does not import"),
        ("NAME = 'x'\n", "does not declare"),
        ("import numpy\n", "does not import"),
    ):
        response = upload_engine(tenant_a, source)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "engine_invalid"
        assert needle in response.json()["error"]["message"]
