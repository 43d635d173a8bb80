"""The fast decide path keeps the pipeline's answers: memoised greedy, cached selections,
concurrent requests through the group-commit writer, every acknowledged decision stored."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from apiclient import ADMIN_TOKEN, LiveServer, TenantClient, decide_body
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
from skyroute.serve.tables import Decision


def test_a_repeated_request_is_a_lookup_with_a_new_stored_decision(
    client: TestClient, tenant_a: TenantClient
) -> None:
    state = client.app.state.skyroute  # type: ignore[attr-defined]
    first: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(id="memo"))
    again: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(id="memo"))
    other: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(id="memo", memory_mb=900))
    assert first.status_code == again.status_code == other.status_code == 200
    a, b = first.json(), again.json()
    assert a["decision_id"] != b["decision_id"]
    assert {k: v for k, v in a.items() if k != "decision_id"} == {
        k: v for k, v in b.items() if k != "decision_id"
    }
    assert other.json()["placement"]["memory_mb"] >= 900
    assert state.memo.hits >= 1
    with state.sessions() as session:
        stored = session.scalars(select(Decision.id).where(Decision.function_id == "memo"))
        assert {a["decision_id"], b["decision_id"], other.json()["decision_id"]} <= set(stored)


def test_a_new_selection_is_seen_at_once_by_the_process_that_took_it(
    client: TestClient, tenant_a: TenantClient
) -> None:
    before: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert before.json()["engine"] == "greedy"
    selected: Any = tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    assert selected.status_code == 200, selected.text
    after: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body())
    assert after.json()["engine"] == "hierarchical"


def test_concurrent_decisions_are_all_stored_before_they_are_answered(
    settings: Settings,
) -> None:
    app = create_app(settings)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        key = http.post(
            "/api/v1/admin/tenants",
            json={"name": "many"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()["api_key"]
        headers = {"Authorization": f"Bearer {key}"}
        answered: list[str] = []
        lock = threading.Lock()

        def client(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as own:
                for i in range(25):
                    body = decide_body(id=f"w{worker}-{i % 5}", duration_ms=50 + worker)
                    response = own.post("/api/v1/ml/decide", json=body, headers=headers)
                    assert response.status_code == 200, response.text
                    with lock:
                        answered.append(response.json()["decision_id"])

        threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batch = http.post(
            "/api/v1/ml/decide/batch",
            json={"requests": [decide_body(id=f"b{i}") for i in range(300)]},
            headers=headers,
        )
        assert batch.status_code == 200, batch.text
        answered += [d["decision_id"] for d in batch.json()["decisions"]]
        state = app.state.skyroute
        with state.sessions() as session:
            stored = set(session.scalars(select(Decision.id)))
            count = session.scalar(select(func.count()).select_from(Decision))
    assert len(answered) == 8 * 25 + 300 == len(set(answered))
    assert set(answered) <= stored and count == len(answered)
