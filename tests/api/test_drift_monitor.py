"""The drift monitor: it runs by itself after decisions, and several workers store an alert once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_drift import _alerts, _decide, _with_model

from apiclient import TenantClient, decide_body, make_tenant
from skyroute.serve import drift
from skyroute.serve.app import create_app
from skyroute.serve.drift_monitor import DriftMonitor
from skyroute.serve.metrics import Metrics
from skyroute.serve.settings import Settings
from skyroute.serve.tables import Actual, DriftAlert

WINDOW = 40


@pytest.fixture
def small_windows(settings: Settings) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"drift_window_size": WINDOW, "drift_check_interval_s": 0.05}
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        client.app.state.skyroute.world_build.get()
        yield client


def test_the_monitor_checks_after_decisions_without_being_asked(
    small_windows: TestClient, tmp_path: Path
) -> None:
    tenant = make_tenant(small_windows, "shifted")
    _with_model(tenant, tmp_path)
    _decide(tenant, WINDOW, seed=1, shift=3.0)  # nobody calls check(): the monitor does
    deadline = time.monotonic() + 20.0
    while not _alerts(tenant):
        assert time.monotonic() < deadline, "no drift alert from the background monitor"
        time.sleep(0.05)
    assert {alert["kind"] for alert in _alerts(tenant)} == {"input"}


def test_two_workers_checking_at_once_store_each_alert_once(
    small_windows: TestClient, tmp_path: Path
) -> None:
    state = small_windows.app.state.skyroute
    tenant = make_tenant(small_windows, "shifted")
    _with_model(tenant, tmp_path)
    state.drift.close()  # only the two "workers" below check
    _decide(tenant, WINDOW, seed=2, shift=3.0)
    workers = [DriftMonitor(state.sessions, state.settings, Metrics.create()) for _ in range(2)]
    # Both find the same drift before either stores it (the race two processes run).
    with state.sessions() as session:
        results = drift.check(session, tenant.tenant_id, state.settings)
    found = [worker._candidates(tenant.tenant_id, results) for worker in workers]
    assert len(found[0]) == len(found[1]) > 0
    assert [workers[0]._store(alert) for alert in found[0]] == [True] * len(found[0])
    assert [workers[1]._store(alert) for alert in found[1]] == [False] * len(found[1])
    # Checked again later, by either: nothing new.
    assert workers[0].check(tenant.tenant_id) == workers[1].check(tenant.tenant_id) == []
    with state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DriftAlert)) == len(found[0])


def test_the_series_buckets_by_hour_and_never_invents_carbon(
    client: TestClient, tenant_a: TenantClient
) -> None:
    start = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    ids = []
    for k in range(4):
        answer: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(id=f"fn{k}"))
        ids.append(answer.json()["decision_id"])
    at = [start, start + timedelta(minutes=59), start + timedelta(hours=1)]
    actuals = [
        {"decision_id": ids[0], "latency_ms": 100.0, "observed_at": at[0].isoformat()},
        {"decision_id": ids[1], "latency_ms": 300.0, "observed_at": at[1].isoformat()},
        {"decision_id": ids[2], "latency_ms": 50.0, "carbon_g": 2.0,
         "observed_at": at[2].isoformat()},
    ]  # fmt: skip
    assert tenant_a.post("/api/v1/ml/actuals", json={"actuals": actuals}).status_code == 200  # type: ignore[attr-defined]
    buckets = tenant_a.get("/api/v1/ml/actuals/series").json()["buckets"]  # type: ignore[attr-defined]
    assert [(b["start"], b["n"]) for b in buckets] == [
        ("2026-11-01T10:00:00+00:00", 2), ("2026-11-01T11:00:00+00:00", 1),
    ]  # fmt: skip
    first, second = buckets
    assert first["realised_latency_ms"] == 200.0 and first["realised_carbon_g"] is None
    assert first["expected_carbon_g"] is not None  # what the decision expected is known
    assert second["realised_carbon_g"] == 2.0
    assert first["latency_error_ms"] == 200.0 - first["expected_latency_ms"]
    wide = tenant_a.get("/api/v1/ml/actuals/series", params={"bucket_minutes": 1440}).json()  # type: ignore[attr-defined]
    assert [b["n"] for b in wide["buckets"]] == [3]
    other = tenant_a.get("/api/v1/ml/actuals/series", params={"engine": "rules"}).json()  # type: ignore[attr-defined]
    assert other == {"buckets": []}
    with client.app.state.skyroute.sessions() as session:  # carbon is stored as posted
        assert session.scalar(select(func.count()).where(Actual.carbon_g.is_not(None))) == 1
