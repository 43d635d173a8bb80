"""Decisions through the real app: greedy placement, storage, idempotency, bad input, health."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from apiclient import ADMIN_TOKEN, TenantClient, decide_body


def _select(tenant: TenantClient, engine_id: str = "greedy") -> None:
    response: Any = tenant.post("/api/v1/ml/engines/select", json={"engine_id": engine_id})
    assert response.status_code == 200, response.text


def test_with_no_configuration_greedy_answers(client: TestClient, tenant_a: TenantClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["engine"] == "greedy", ready.text
    response: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert response.status_code == 200, response.text
    assert response.json()["engine"] == "greedy" and response.json()["fallback"] is False


def test_decide_returns_a_stored_greedy_placement(
    client: TestClient, tenant_a: TenantClient
) -> None:
    _select(tenant_a)
    response: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "greedy" and body["fallback"] is False
    assert body["placement"]["provider"] in {"aws", "azure", "gcp"}
    assert body["placement"]["memory_mb"] >= 180
    assert all(body["expected"][k] > 0 for k in ("cost_usd", "latency_ms", "carbon_g"))

    # With latency as the only goal, a European caller is served from Europe.
    fast = {**decide_body(), "objective": {"cost": 0, "latency": 1, "carbon": 0}}
    placed = tenant_a.post("/api/v1/ml/decide", json=fast).json()  # type: ignore[attr-defined]
    europe = {"eu-west-1", "eu-central-1", "northeurope", "germanywestcentral", "europe-west1"}
    assert placed["placement"]["region"] in europe | {"europe-west3"}, placed
    assert placed["expected"]["latency_ms"] <= body["expected"]["latency_ms"]


def test_constraints_are_respected(client: TestClient, tenant_a: TenantClient) -> None:
    _select(tenant_a)
    body = decide_body()
    body["constraints"] = {"providers": ["gcp"], "regions": ["gcp:europe-west1", "gcp:us-east4"]}
    response: Any = tenant_a.post("/api/v1/ml/decide", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["placement"]["provider"] == "gcp"
    assert response.json()["placement"]["region"] in {"europe-west1", "us-east4"}


def test_idempotency_key_returns_the_same_decision(
    client: TestClient, tenant_a: TenantClient
) -> None:
    _select(tenant_a)
    headers = {"Idempotency-Key": "retry-me"}
    first: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(), headers=headers)
    second: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    third: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert third.json()["decision_id"] != first.json()["decision_id"]
    # The same key with another body is a conflict, not the old answer.
    other: Any = tenant_a.post(
        "/api/v1/ml/decide", json=decide_body(duration_ms=999.0), headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_idempotency_keys_match_exactly(client: TestClient, tenant_a: TenantClient) -> None:
    """SQL wildcards in a fresh key never match another request's key."""
    stored: Any = tenant_a.post(
        "/api/v1/ml/decide/batch",
        json={"requests": [decide_body(), decide_body(id="fn-2")]},
        headers={"Idempotency-Key": "abc"},
    )
    assert stored.status_code == 200, stored.text
    old = {d["decision_id"] for d in stored.json()["decisions"]}
    for key in ("%", "_%", "a%", "ab_", "abc#0", "abc#%"):
        fresh: Any = tenant_a.post(
            "/api/v1/ml/decide", json=decide_body(), headers={"Idempotency-Key": key}
        )
        assert fresh.status_code == 200, (key, fresh.text)
        assert fresh.json()["decision_id"] not in old, key
    # A batch retried with a long key (the old "#0" suffix overflowed the column).
    long_key = "k" * 200
    batch = {"requests": [decide_body(), decide_body(id="fn-2")]}
    first: Any = tenant_a.post(
        "/api/v1/ml/decide/batch", json=batch, headers={"Idempotency-Key": long_key}
    )
    again: Any = tenant_a.post(
        "/api/v1/ml/decide/batch", json=batch, headers={"Idempotency-Key": long_key}
    )
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()


def test_batch_decides_every_request(client: TestClient, tenant_a: TenantClient) -> None:
    _select(tenant_a)
    origins = ["aws:us-east-1", "aws:ap-northeast-1", "azure:westeurope", "gcp:asia-south1"]
    batch = {"requests": [decide_body(id=f"f{i}", origin=o) for i, o in enumerate(origins)]}
    response: Any = tenant_a.post("/api/v1/ml/decide/batch", json=batch)
    assert response.status_code == 200, response.text
    decisions = response.json()["decisions"]
    assert len(decisions) == len(origins)
    assert len({d["decision_id"] for d in decisions}) == len(origins)


def test_bad_requests_get_json_errors_with_codes(
    client: TestClient, tenant_a: TenantClient
) -> None:
    _select(tenant_a)
    cases = [
        (decide_body(origin="aws:us-eats-1"), "unknown_name", "did you mean"),
        (decide_body(duration_ms=-5), "invalid_request", "duration_ms"),
        ({**decide_body(), "constraints": {"providers": ["azur"]}}, "unknown_name", "azure"),
        ({**decide_body(), "constraints": {"regions": ["aws:mars-1"]}}, "unknown_name", "region"),
        ({**decide_body(), "surprise": 1}, "invalid_request", "surprise"),
        (
            {**decide_body(), "constraints": {"providers": ["gcp"], "regions": ["aws:us-east-1"]}},
            "infeasible",
            "no placement keeps every hard constraint",
        ),
    ]
    for body, code, needle in cases:
        response: Any = tenant_a.post("/api/v1/ml/decide", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code, response.text
        assert needle in error["message"] + error["fix"], response.text
    # The server keeps serving.
    assert tenant_a.post("/api/v1/ml/decide", json=decide_body()).status_code == 200  # type: ignore[attr-defined]


def test_authentication_is_required(client: TestClient) -> None:
    response = client.post("/api/v1/ml/decide", json=decide_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    wrong = client.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Authorization": "Bearer sk_nope"}
    )
    assert wrong.status_code == 401
    not_admin = client.post(
        "/api/v1/admin/tenants", json={"name": "x"}, headers={"Authorization": "Bearer sk_nope"}
    )
    assert not_admin.status_code == 403
    duplicate = client.post(
        "/api/v1/admin/tenants",
        json={"name": "twice"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    again = client.post(
        "/api/v1/admin/tenants",
        json={"name": "twice"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert duplicate.status_code == 201 and again.status_code == 409


def test_oversized_request_is_refused(client: TestClient, tenant_a: TenantClient) -> None:
    _select(tenant_a)
    body = {"requests": [decide_body(id="x" * 150) for _ in range(8000)]}
    response: Any = tenant_a.post("/api/v1/ml/decide/batch", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_metrics_count_decisions_by_route_template(
    client: TestClient, tenant_a: TenantClient
) -> None:
    _select(tenant_a)
    tenant_a.post("/api/v1/ml/decide", json=decide_body())
    text = client.get("/metrics").text
    assert 'skyroute_decisions_total{engine="greedy"' in text
    assert 'route="/api/v1/ml/decide"' in text
    assert "fn-1" not in text  # no raw ids as labels
