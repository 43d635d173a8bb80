"""The live predictions stream through the real app (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from apiclient import TenantClient

LIVE = "/api/v1/ml/predictions/live"


def _predict(
    tenant: TenantClient, instance_type: str = "m5.large", region: str = "us-east-1"
) -> dict[str, Any]:
    """Ask for an interruption probability (stored, hence streamed); the answer."""
    body = {"instance_type": instance_type, "region": region}
    response: Any = tenant.post("/api/v1/ml/predict/spot-interruption", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _next_event(ws: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.receive_text())
    return event


def _refusal(client: TestClient, url: str, headers: dict[str, str]) -> WebSocketDisconnect:
    with (
        client.websocket_connect(url, headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    return closed.value


def test_a_prediction_reaches_its_tenant_only(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    with (
        client.websocket_connect(LIVE, headers=tenant_a.headers) as ws_a,
        client.websocket_connect(f"{LIVE}?api_key={tenant_b.key}") as ws_b,
    ):
        answer = _predict(tenant_a)
        event = _next_event(ws_a)
        assert (event["tenant_id"], event["kind"]) == (tenant_a.tenant_id, "prediction")
        assert (event["instance_type"], event["region"]) == ("m5.large", "us-east-1")
        assert event["value"] == answer["interruption_probability"]
        assert event["method"] == answer["method"]
        assert event["payload"]["confidence"] == answer["confidence"]
        assert event["id"] and event["created_at"] and event["worker"]
        # B's first event is B's own prediction: A's, published earlier, never reached it.
        _predict(tenant_b, "m5.xlarge")
        assert _next_event(ws_b)["instance_type"] == "m5.xlarge"


def test_spot_optimize_recommendations_are_streamed(
    client: TestClient, tenant_a: TenantClient
) -> None:
    body = {
        "cluster_id": "batch-1",
        "requirements": {"vcpu": 2, "memory_gib": 8, "node_count": 4},
        "constraints": {"regions": ["us-east-1"]},
    }
    with client.websocket_connect(LIVE, headers=tenant_a.headers) as ws:
        response: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=body)
        assert response.status_code == 200, response.text
        recommendations = response.json()["recommendations"]
        events = [_next_event(ws) for _ in recommendations]
    assert {event["kind"] for event in events} == {"decision"}
    assert sum(event["value"] for event in events) == 4
    assert [event["payload"]["recommendation"] for event in events] == recommendations


def test_filters_pass_only_matching_predictions(client: TestClient, tenant_a: TenantClient) -> None:
    with (
        client.websocket_connect(
            f"{LIVE}?instance_type=m5.xlarge", headers=tenant_a.headers
        ) as by_type,
        client.websocket_connect(f"{LIVE}?region=eu-west-1", headers=tenant_a.headers) as by_region,
        client.websocket_connect(
            f"{LIVE}?instance_type=m5.large&region=us-east-1", headers=tenant_a.headers
        ) as by_both,
    ):
        _predict(tenant_a, "m5.large", "eu-west-1")
        _predict(tenant_a, "m5.xlarge", "us-east-1")
        _predict(tenant_a, "m5.large", "us-east-1")
        by_type_event = _next_event(by_type)
        assert (by_type_event["instance_type"], by_type_event["region"]) == (
            "m5.xlarge",
            "us-east-1",
        )
        by_region_event = _next_event(by_region)
        assert (by_region_event["instance_type"], by_region_event["region"]) == (
            "m5.large",
            "eu-west-1",
        )
        by_both_event = _next_event(by_both)
        assert (by_both_event["instance_type"], by_both_event["region"]) == (
            "m5.large",
            "us-east-1",
        )


@pytest.mark.parametrize(
    ("query", "headers", "reason"),
    [
        ("", {}, "missing API key"),
        ("?api_key=sk_wrong", {}, "unknown or revoked API key"),
        ("", {"Authorization": "Bearer sk_wrong"}, "unknown or revoked API key"),
    ],
)
def test_a_bad_key_closes_with_policy_violation(
    client: TestClient, query: str, headers: dict[str, str], reason: str
) -> None:
    closed = _refusal(client, LIVE + query, headers)
    assert closed.code == 1008
    assert reason in closed.reason


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?instance_type=m5.larg", "unknown instance type 'm5.larg'; did you mean 'm5.large'"),
        ("?region=eu-west-9", "unknown region 'eu-west-9'; did you mean"),
        ("?after=no-such-prediction", "unknown prediction id 'no-such-prediction'"),
    ],
)
def test_an_unknown_filter_or_cursor_is_refused(
    client: TestClient, tenant_a: TenantClient, query: str, reason: str
) -> None:
    closed = _refusal(client, LIVE + query, tenant_a.headers)
    assert closed.code == 1008
    assert reason in closed.reason


def test_the_cursor_replays_missed_predictions_then_goes_live(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    with client.websocket_connect(LIVE, headers=tenant_a.headers) as watcher:
        _predict(tenant_a)
        seen = _next_event(watcher)["id"]
        _predict(tenant_a, "m5.xlarge")
        _predict(tenant_a, "m5.large", "eu-west-1")
        missed = [_next_event(watcher)["id"] for _ in range(2)]
    _predict(tenant_b)  # another tenant's prediction is never replayed
    with client.websocket_connect(f"{LIVE}?after={seen}", headers=tenant_a.headers) as ws:
        assert [_next_event(ws)["id"] for _ in missed] == missed
        _predict(tenant_a)
        live = _next_event(ws)
        assert live["id"] not in {seen, *missed} and live["worker"] is not None


def test_another_tenants_prediction_is_no_cursor(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    with client.websocket_connect(LIVE, headers=tenant_b.headers) as ws_b:
        _predict(tenant_b)
        theirs = _next_event(ws_b)["id"]
    closed = _refusal(client, f"{LIVE}?after={theirs}", tenant_a.headers)
    assert (closed.code, closed.reason) == (1008, f"unknown prediction id {theirs!r} in ?after=")
