"""Actuals: stored by decision id, idempotent, tenant-private, summarised per A/B arm."""

from __future__ import annotations

from typing import Any

from apiclient import TenantClient, decide_body


def _decisions(tenant: TenantClient, n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        answer = tenant.post("/api/v1/ml/decide", json=decide_body(id=f"fn{k}"))
        assert answer.status_code == 200, answer.text
        out.append(answer.json())
    return out


def test_actuals_are_joined_to_what_was_expected(tenant_a: TenantClient) -> None:
    decided = _decisions(tenant_a, 30)
    actuals = [
        {
            "decision_id": d["decision_id"],
            "cost_usd": d["expected"]["cost_usd"] * 1.1,
            "latency_ms": d["expected"]["latency_ms"] + 50.0 + k % 3,
            "cold_start": k % 5 == 0,
        }
        for k, d in enumerate(decided)
    ]
    stored = tenant_a.post("/api/v1/ml/actuals", json={"actuals": actuals})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": 30, "already": 0}
    again = tenant_a.post("/api/v1/ml/actuals", json=actuals[0])  # posted twice: idempotent
    assert again.json() == {"stored": 0, "already": 1}
    (arm,) = tenant_a.get("/api/v1/ml/actuals/summary").json()["arms"]
    assert arm["engine"] == "greedy" and arm["n"] == 30
    assert arm["mean_cost_usd"] > arm["mean_expected_cost_usd"]
    low, high = arm["latency_error_ci95_ms"]
    assert low < arm["latency_error_ms"] < high and 50.0 <= arm["latency_error_ms"] <= 52.0
    assert arm["cold_start_rate"] == 6 / 30


def test_different_actuals_for_a_decision_are_a_conflict(tenant_a: TenantClient) -> None:
    (decided,) = _decisions(tenant_a, 1)
    first = {"decision_id": decided["decision_id"], "latency_ms": 100.0}
    assert tenant_a.post("/api/v1/ml/actuals", json=first).status_code == 200
    changed = tenant_a.post("/api/v1/ml/actuals", json=first | {"latency_ms": 200.0})
    assert changed.status_code == 409 and changed.json()["error"]["fix"]


def test_another_tenants_decision_is_unknown(
    tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    (decided,) = _decisions(tenant_a, 1)
    body = {"decision_id": decided["decision_id"], "latency_ms": 1.0}
    for attempt in (body, {"decision_id": "no-such-decision", "latency_ms": 1.0}):
        refused = tenant_b.post("/api/v1/ml/actuals", json=attempt)
        assert refused.status_code == 404, refused.text
        assert set(refused.json()["error"]) == {"code", "message", "fix"}
    assert tenant_b.get("/api/v1/ml/actuals/summary").json() == {"arms": []}


def test_an_actual_must_observe_something(tenant_a: TenantClient) -> None:
    (decided,) = _decisions(tenant_a, 1)
    empty = tenant_a.post("/api/v1/ml/actuals", json={"decision_id": decided["decision_id"]})
    assert empty.status_code == 422
    negative = {"decision_id": decided["decision_id"], "cost_usd": -1.0}
    assert tenant_a.post("/api/v1/ml/actuals", json=negative).status_code == 422


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_expected_and_realised_cost_and_carbon_reach_the_metrics_by_region(
    client: Any, tenant_a: TenantClient
) -> None:
    decided = _decisions(tenant_a, 4)
    where = {k: decided[0]["placement"][k] for k in ("provider", "region")}
    same = [d for d in decided if {k: d["placement"][k] for k in where} == where]
    before = client.get("/metrics").text
    actuals = [{"decision_id": d["decision_id"], "cost_usd": 0.5, "carbon_g": 2.0} for d in same]
    assert tenant_a.post("/api/v1/ml/actuals", json={"actuals": actuals}).status_code == 200
    tenant_a.post("/api/v1/ml/actuals", json=actuals[0])  # already stored: not counted again
    after = client.get("/metrics").text
    n = len(same)
    assert (
        _sample(after, "skyroute_actuals_total", **where)
        - _sample(before, "skyroute_actuals_total", **where)
        == n
    )
    gained = _sample(after, "skyroute_realised_cost_usd_total", **where) - _sample(
        before, "skyroute_realised_cost_usd_total", **where
    )
    assert abs(gained - 0.5 * n) < 1e-9
    carbon = _sample(after, "skyroute_realised_carbon_grams_total", **where)
    assert carbon >= 2.0 * n
    expected = _sample(after, "skyroute_decision_expected_cost_usd_total", engine="greedy", **where)
    assert expected >= sum(d["expected"]["cost_usd"] for d in same) - 1e-12 > 0
    assert _sample(after, "skyroute_decisions_total", engine="greedy", **where) >= n
