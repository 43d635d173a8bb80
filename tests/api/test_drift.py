"""Drift through the real app (SQLite and PostgreSQL): issue 12's acceptance test.

Tenant A decides with a bundle that carries its training reference, first with inputs drawn
from that distribution, then shifted: a drift alert comes within one window, is stored once,
streamed to A's subscriber only, counted in /metrics and forwarded through the outbox. Tenant
B, the control, decides 1,000 times from the training distribution: no input alert; its
actuals' latency error jumps in the latest window, which is an error alert of B's alone.
Actuals for both tenants' 1,000 decisions give the error series and the A/B summary.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_outbox import Receiver

from apiclient import TenantClient, make_tenant
from bundlemaker import mlp_bundle, profile_reference, profile_sample
from skyroute.bundles import pack_bundle
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

WINDOW = 500
ALERTS_LIVE = "/api/v1/ml/alerts/live"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(failures=1)
    yield found
    found.close()


@pytest.fixture
def central(settings: Settings, receiver: Receiver) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={
            "central_platform_url": receiver.url,
            "central_retry_base_s": 0.05,
            "central_poll_s": 0.02,
            "drift_window_size": WINDOW,
        }
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        client.app.state.skyroute.world_build.get()
        yield client


def _with_model(tenant: TenantClient, tmp_path: Path, *, reference: bool = True) -> None:
    """A strategic bundle with (or without) the training reference, active, under the
    hierarchical engine."""
    folder = mlp_bundle(
        tmp_path / f"s-{tenant.tenant_id}", n_in=50,
        reference=profile_reference() if reference else None,
    )  # fmt: skip
    archive = pack_bundle(folder, tmp_path / f"s-{tenant.tenant_id}.zip")
    with archive.open("rb") as handle:
        uploaded: Any = tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": "strat", "version": "1"},
            files={"file": (archive.name, handle, "application/zip")},
        )
    assert uploaded.status_code == 201, uploaded.text
    activated: Any = tenant.post(
        "/api/v1/ml/models/activate", json={"model_id": "strat", "version": "1"}
    )
    assert activated.status_code == 200, activated.text
    selected: Any = tenant.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    assert selected.status_code == 200, selected.text


def _decide(tenant: TenantClient, n: int, seed: int, shift: float) -> list[dict[str, Any]]:
    profiles = profile_sample(n, seed=seed, shift=shift)
    requests = [
        {
            "function": {
                "id": f"fn{k % 7}",
                "origin": "aws:eu-west-1",
                **{name: float(values[k]) for name, values in profiles.items()},
            }
        }
        for k in range(n)
    ]
    answer: Any = tenant.post("/api/v1/ml/decide/batch", json={"requests": requests})
    assert answer.status_code == 200, answer.text
    decisions: list[dict[str, Any]] = answer.json()["decisions"]
    assert all(d["model_versions"] == {"placement.strategic": "strat@1"} for d in decisions)
    return decisions


def _alerts(tenant: TenantClient, **params: Any) -> list[dict[str, Any]]:
    response: Any = tenant.get("/api/v1/ml/drift/alerts", params=params)
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts


def _actuals(tenant: TenantClient, decided: list[dict[str, Any]], jump_after: int) -> None:
    """Realised = expected + noise, plus 200 ms of latency from decision ``jump_after`` on."""
    rng = np.random.default_rng(1)
    actuals = [
        {
            "decision_id": d["decision_id"],
            "cost_usd": d["expected"]["cost_usd"] + 1e-5 + rng.normal(0, 1e-6),
            "latency_ms": d["expected"]["latency_ms"] + 10 + rng.normal(0, 5)
            + (200.0 if k >= jump_after else 0.0),
            "carbon_g": d["expected"]["carbon_g"] * 0.9,
        }
        for k, d in enumerate(decided)
    ]  # fmt: skip
    stored: Any = tenant.post("/api/v1/ml/actuals", json={"actuals": actuals})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": len(actuals), "already": 0}


def _wait(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_shifted_inputs_alert_within_one_window_and_the_control_does_not(
    central: TestClient, receiver: Receiver, tmp_path: Path
) -> None:
    a, b = make_tenant(central, "shifted"), make_tenant(central, "control")
    for tenant in (a, b):
        _with_model(tenant, tmp_path)
    monitor = central.app.state.skyroute.drift
    with (
        central.websocket_connect(ALERTS_LIVE, headers=a.headers) as ws_a,
        central.websocket_connect(f"{ALERTS_LIVE}?api_key={b.key}") as ws_b,
    ):
        decided_a, decided_b = [], []
        for step in range(5):  # a first window from the training distribution: quiet
            decided_a += _decide(a, 100, seed=10 + step, shift=1.0)
            monitor.check(a.tenant_id)
        assert _alerts(a) == []
        shifted, first_alert = 0, None
        while shifted < 2 * WINDOW and first_alert is None:
            decided_a += _decide(a, 100, seed=100 + shifted, shift=2.0)
            shifted += 100
            monitor.check(a.tenant_id)
            first_alert = next(iter(_alerts(a, kind="input")), None)
        assert first_alert is not None and shifted <= WINDOW  # within one window
        while len(decided_a) < 2 * WINDOW:
            decided_a += _decide(a, 100, seed=900 + len(decided_a), shift=2.0)
        for step in range(10):  # the control: 1,000 decisions, all like the training data
            decided_b += _decide(b, 100, seed=5_000 + step, shift=1.0)
            monitor.check(b.tenant_id)
        assert _alerts(b, kind="input") == []

        # Actuals for 1,000 decisions each: A's error stays put, B's jumps in its last window.
        _actuals(a, decided_a, jump_after=len(decided_a))
        _actuals(b, decided_b, jump_after=WINDOW)
        monitor.check(a.tenant_id)
        monitor.check(b.tenant_id)
        monitor.check(b.tenant_id)  # checked again (any worker may): stored once

        event = json.loads(ws_a.receive_text())
        assert event["tenant_id"] == a.tenant_id and event["kind"] == "input"
        assert (event["model_id"], event["model_version"]) == ("strat", "1")
        # B's first event is its own error alert: A's alerts, published before, never reached it.
        event_b = json.loads(ws_b.receive_text())
        assert (event_b["tenant_id"], event_b["kind"]) == (b.tenant_id, "error")

    alerts_a = _alerts(a)
    assert {x["kind"] for x in alerts_a} == {"input"}
    assert {x["feature"] for x in alerts_a} <= {
        "duration_ms",
        "memory_mb",
        "payload_kb",
        "rate_per_min",
    }
    assert all(x["psi"] > 0.2 and x["p_value"] < 0.01 and x["n"] == WINDOW for x in alerts_a)
    keys = [(x["feature"], x["window_first_at"]) for x in alerts_a]
    assert first_alert["message"] and set(first_alert) == {
        "id", "created_at", "kind", "engine", "model_id", "model_version", "feature", "psi",
        "p_value", "threshold", "n", "window_first_at", "window_last_at", "message",
    }  # fmt: skip
    assert len(keys) == len(set(keys))
    # A feature that keeps drifting alerts at most once per window's worth of decisions.
    per_feature = Counter(x["feature"] for x in alerts_a)
    assert max(per_feature.values()) <= 2 and len(alerts_a) >= 2
    (error_b,) = _alerts(b)
    assert (error_b["feature"], error_b["engine"]) == ("latency_error_ms", "hierarchical")

    # The status: A's features drift now, B's do not; each tenant sees only its own.
    status_a = a.get("/api/v1/ml/drift/status").json()  # type: ignore[attr-defined]
    assert (status_a["window_size"], status_a["psi_threshold"], status_a["p_value"]) == (
        WINDOW, 0.2, 0.01,
    )  # fmt: skip
    strat = next(m for m in status_a["models"] if m["model_id"] == "strat")
    assert strat["has_reference"] and strat["n"] == WINDOW and strat["engine"] == "hierarchical"
    assert any(f["drifted"] for f in strat["features"])
    status_b = b.get("/api/v1/ml/drift/status").json()  # type: ignore[attr-defined]
    inputs_b = [f for m in status_b["models"] for f in m["features"] if "error" not in f["feature"]]
    assert inputs_b and not any(f["drifted"] for f in inputs_b)

    # The error series and the A/B summary from the 1,000 actuals.
    series = a.get("/api/v1/ml/actuals/series", params={"bucket_minutes": 60}).json()  # type: ignore[attr-defined]
    assert sum(bucket["n"] for bucket in series["buckets"]) == 2 * WINDOW
    bucket = series["buckets"][0]
    assert bucket["engine"] == "hierarchical"
    assert bucket["model_versions"] == "placement.strategic=strat@1"
    assert 9.0 < bucket["latency_error_ms"] < 11.0
    assert bucket["realised_carbon_g"] == pytest.approx(0.9 * bucket["expected_carbon_g"])
    (arm,) = a.get("/api/v1/ml/actuals/summary").json()["arms"]  # type: ignore[attr-defined]
    assert arm["n"] == 2 * WINDOW and arm["latency_error_ci95_ms"] is not None

    # Counted once per stored alert, and forwarded to the central platform.
    metrics = central.get("/metrics").text
    assert f'skyroute_drift_alerts_total{{kind="input"}} {float(len(alerts_a))}' in metrics
    assert 'skyroute_drift_alerts_total{kind="error"} 1.0' in metrics
    wanted = {x["id"] for x in alerts_a} | {error_b["id"]}
    _wait(lambda: wanted <= set(receiver.events))
    forwarded = receiver.events[error_b["id"]]
    assert forwarded["kind"] == "drift_alert" and forwarded["alert_kind"] == "error"
    assert forwarded["tenant_id"] == b.tenant_id


def test_a_bundle_without_reference_has_no_input_drift(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path
) -> None:
    _with_model(tenant_a, tmp_path, reference=False)
    _decide(tenant_a, 50, seed=3, shift=3.0)
    client.app.state.skyroute.drift.check(tenant_a.tenant_id)
    (model,) = tenant_a.get("/api/v1/ml/drift/status").json()["models"]  # type: ignore[attr-defined]
    assert (model["model_id"], model["has_reference"], model["features"]) == ("strat", False, [])
    assert "no training reference" in model["note"]
    assert _alerts(tenant_a) == []


def test_the_alert_stream_refuses_an_unknown_kind(
    client: TestClient, tenant_a: TenantClient
) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        client.websocket_connect(f"{ALERTS_LIVE}?kind=inptu", headers=tenant_a.headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 1008 and "did you mean 'input'" in closed.value.reason


def test_alerts_query_is_validated(tenant_a: TenantClient) -> None:
    assert tenant_a.get("/api/v1/ml/drift/alerts", params={"kind": "both"}).status_code == 422  # type: ignore[attr-defined]
    assert tenant_a.get("/api/v1/ml/drift/alerts", params={"limit": 0}).status_code == 422  # type: ignore[attr-defined]
    bad = tenant_a.get("/api/v1/ml/actuals/series", params={"bucket_minutes": 0})
    assert bad.status_code == 422  # type: ignore[attr-defined]
