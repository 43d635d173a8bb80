"""The live decision stream through the real app (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from apiclient import TenantClient, decide_body

LIVE = "/api/v1/ml/decisions/live"


def _decide(tenant: TenantClient, **constraints: object) -> str:
    body: dict[str, Any] = decide_body()
    if constraints:
        body["constraints"] = constraints
    response: Any = tenant.post("/api/v1/ml/decide", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["decision_id"])


def _next_event(ws: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.receive_text())
    return event


def _refusal(client: TestClient, url: str, headers: dict[str, str]) -> WebSocketDisconnect:
    """How the server closed a stream it refused (after accepting it, so the reason arrives)."""
    with (
        client.websocket_connect(url, headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    return closed.value


def test_a_decision_reaches_its_tenant_only(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    with (
        client.websocket_connect(LIVE, headers=tenant_a.headers) as ws_a,
        client.websocket_connect(f"{LIVE}?api_key={tenant_b.key}") as ws_b,
    ):
        decided_a = _decide(tenant_a)
        event = _next_event(ws_a)
        assert event["id"] == decided_a
        assert event["tenant_id"] == tenant_a.tenant_id
        assert event["engine"] == "greedy"
        assert {"provider", "region", "memory_mb", "created_at", "explanation"} <= event.keys()
        # B's first event is B's own decision: A's, published earlier, never reached it.
        decided_b = _decide(tenant_b)
        assert _next_event(ws_b)["id"] == decided_b


def test_filters_pass_only_matching_decisions(client: TestClient, tenant_a: TenantClient) -> None:
    with (
        client.websocket_connect(f"{LIVE}?provider=gcp", headers=tenant_a.headers) as by_provider,
        client.websocket_connect(f"{LIVE}?region=eu-west-1", headers=tenant_a.headers) as by_region,
        client.websocket_connect(f"{LIVE}?engine=greedy", headers=tenant_a.headers) as by_engine,
    ):
        in_virginia = _decide(tenant_a, providers=["aws"], regions=["aws:us-east-1"])
        in_gcp = _decide(tenant_a, providers=["gcp"])
        in_ireland = _decide(tenant_a, regions=["aws:eu-west-1"])
        gcp_event = _next_event(by_provider)
        assert (gcp_event["id"], gcp_event["provider"]) == (in_gcp, "gcp")
        region_event = _next_event(by_region)
        assert (region_event["id"], region_event["region"]) == (in_ireland, "eu-west-1")
        assert _next_event(by_engine)["id"] == in_virginia


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
        ("?region=eu-west-9", "unknown region 'eu-west-9'; did you mean"),
        ("?provider=awss", "unknown provider 'awss'; did you mean 'aws'?"),
        ("?after=no-such-decision", "unknown decision id 'no-such-decision'"),
    ],
)
def test_an_unknown_filter_or_cursor_is_refused(
    client: TestClient, tenant_a: TenantClient, query: str, reason: str
) -> None:
    closed = _refusal(client, LIVE + query, tenant_a.headers)
    assert closed.code == 1008
    assert reason in closed.reason


def test_the_cursor_replays_missed_decisions_then_goes_live(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    seen = _decide(tenant_a)
    missed = [_decide(tenant_a), _decide(tenant_a)]
    _decide(tenant_b)  # another tenant's decision is never replayed
    with client.websocket_connect(f"{LIVE}?after={seen}", headers=tenant_a.headers) as ws:
        assert [_next_event(ws)["id"] for _ in missed] == missed
        live = [_decide(tenant_a), _decide(tenant_a)]
        assert [_next_event(ws)["id"] for _ in live] == live  # no gap, no duplicate


def test_another_tenants_decision_is_no_cursor(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    theirs = _decide(tenant_b)
    closed = _refusal(client, f"{LIVE}?after={theirs}", tenant_a.headers)
    assert (closed.code, closed.reason) == (1008, f"unknown decision id {theirs!r} in ?after=")


def test_readyz_reports_the_streams(client: TestClient) -> None:
    streams = client.get("/readyz").json()["streams"]
    assert (streams["backend"], streams["status"]) == ("memory", "ok")


def test_a_revoked_key_ends_its_open_stream(client: TestClient, tenant_a: TenantClient) -> None:
    from sqlalchemy import update

    from skyroute.serve.tables import ApiKey

    state = client.app.state.skyroute  # type: ignore[attr-defined]
    with client.websocket_connect(LIVE, headers=tenant_a.headers) as ws:
        _decide(tenant_a)
        _next_event(ws)  # the stream works
        with state.sessions() as session:
            session.execute(
                update(ApiKey).where(ApiKey.tenant_id == tenant_a.tenant_id).values(revoked=True)
            )
            session.commit()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()  # closed by the server within the key cache's lifetime
    assert closed.value.code == 1008 and "revoked" in closed.value.reason


def test_recent_decisions_are_the_tenants_newest_in_stream_order(
    tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    mine = [
        tenant_a.post("/api/v1/ml/decide", json=decide_body(id=f"f{i}")).json() for i in range(5)
    ]
    tenant_b.post("/api/v1/ml/decide", json=decide_body(id="theirs"))
    recent: Any = tenant_a.get("/api/v1/ml/decisions/recent", params={"limit": 3})
    assert recent.status_code == 200, recent.text
    events = recent.json()
    assert [e["id"] for e in events] == [d["decision_id"] for d in mine[-3:]]
    assert {e["function_id"] for e in events} == {"f2", "f3", "f4"}
    assert all(e["tenant_id"] != "" and e["worker"] is None for e in events)
    theirs: Any = tenant_b.get("/api/v1/ml/decisions/recent")
    assert [e["function_id"] for e in theirs.json()] == ["theirs"]
    too_many: Any = tenant_a.get("/api/v1/ml/decisions/recent", params={"limit": 5000})
    assert too_many.status_code == 422
