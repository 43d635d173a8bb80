"""spot-optimize through the real app: constraints met, savings from the prices used, engines."""

from __future__ import annotations

import io
import math
from typing import Any

from apiclient import TenantClient
from skyroute.world.catalog.loader import load_catalog

BODY = {
    "cluster_id": "batch-1",
    "requirements": {"vcpu": 2, "memory_gib": 8, "node_count": 10},
    "constraints": {
        "regions": ["us-east-1", "eu-west-1"],
        "max_interruption_probability": 0.05,
        "on_demand_floor": 0.3,
        "max_spot_pools": 2,
    },
}


def _snapshot_price(instance_type: str, region: str, column: str) -> float:
    prices = load_catalog().vm_prices
    rows = prices[(prices["instance_type"] == instance_type) & (prices["region"] == region)]
    return float(rows[column].mean())


def test_the_builtin_mix_meets_every_constraint_and_its_savings_add_up(
    tenant_a: TenantClient,
) -> None:
    response: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=BODY)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["engine"] == "spot-optimize" and plan["fallback"] is False
    assert plan["feasible"] is True and plan["execution_plan"]
    recs = plan["recommendations"]
    assert sum(r["count"] for r in recs) == 10
    on_demand = sum(r["count"] for r in recs if r["purchase"] == "on-demand")
    assert on_demand >= math.ceil(0.3 * 10)
    spot_pools = [r for r in recs if r["purchase"] == "spot"]
    assert len(spot_pools) <= 2
    for rec in recs:
        assert rec["region"] in ("us-east-1", "eu-west-1")
        column = "spot_usd_per_hour" if rec["purchase"] == "spot" else "ondemand_usd_per_hour"
        # The store is empty here, so every price used is the embedded snapshot's.
        assert math.isclose(
            rec["unit_price"],
            _snapshot_price(rec["instance_type"], rec["region"], column),
            rel_tol=1e-6,
        )
        if rec["purchase"] == "spot":
            assert rec["interruption_probability"] <= 0.05
    savings = plan["estimated_savings"]
    plan_cost = sum(r["count"] * r["unit_price"] for r in recs)
    assert math.isclose(savings["plan_hourly"], plan_cost, abs_tol=1e-5)
    assert math.isclose(
        savings["savings_hourly"], savings["baseline_hourly"] - savings["plan_hourly"], abs_tol=1e-5
    )
    stored: Any = tenant_a.get("/api/v1/ml/spot/history", params={"kind": "decision"})
    assert {(r["instance_type"], r["region"]) for r in stored.json()} == {
        (r["instance_type"], r["region"]) for r in recs
    }


def test_impossible_requirements_are_infeasible_not_an_error(tenant_a: TenantClient) -> None:
    body = BODY | {"requirements": {"vcpu": 512, "memory_gib": 8, "node_count": 3}}
    plan: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=body)
    assert plan.status_code == 200
    assert plan.json()["feasible"] is False and plan.json()["recommendations"] == []
    unknown: Any = tenant_a.post(
        "/api/v1/ml/decision/spot-optimize",
        json=BODY | {"constraints": {"regions": ["us-esat-1"]}},
    )
    assert unknown.status_code == 422 and "us-east-1" in unknown.json()["error"]["fix"]


ALL_ON_DEMAND = """
NAME = "all-on-demand"
VERSION = "1"
DESCRIPTION = "everything on demand on the first candidate"
INPUT_SCHEMA = {"type": "object"}
OUTPUT_SCHEMA = {"type": "object"}

def decide(request, config):
    c = request["candidates"][0]
    n = request["requirements"]["node_count"]
    cost = round(n * c["ondemand_price"], 6)
    return {"cluster_id": request["cluster_id"], "feasible": True, "reason": "mine",
            "recommendations": [{"instance_type": c["instance_type"], "provider": c["provider"],
                                 "region": c["region"], "purchase": "on-demand", "count": n,
                                 "unit_price": c["ondemand_price"], "hourly_cost": cost,
                                 "interruption_probability": None, "synthetic": c["synthetic"]}],
            "execution_plan": [], "estimated_savings": {"baseline_hourly": cost,
            "plan_hourly": cost, "savings_hourly": 0.0, "savings_pct": 0.0, "baseline": "x"}}
"""


def _select_uploaded(tenant: TenantClient, source: str) -> None:
    created: Any = tenant.post(
        "/api/v1/ml/engines/upload",
        files={"file": ("engine.py", io.BytesIO(source.encode()), "text/x-python")},
    )
    assert created.status_code == 201, created.text
    chosen: Any = tenant.post(
        "/api/v1/ml/engines/select",
        json={"engine_id": created.json()["engine_id"], "purpose": "spot-optimize"},
    )
    assert chosen.status_code == 200, chosen.text


def test_a_tenant_can_replace_the_engine_and_a_failing_one_falls_back(
    tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    _select_uploaded(tenant_a, ALL_ON_DEMAND)
    mine: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=BODY)
    assert mine.json()["engine"] == "all-on-demand" and mine.json()["reason"] == "mine"
    # The other tenant still gets the built-in engine.
    theirs: Any = tenant_b.post("/api/v1/ml/decision/spot-optimize", json=BODY)
    assert theirs.json()["engine"] == "spot-optimize"
    # Placement decisions are not affected by the spot selection (greedy by default).
    listed: Any = tenant_a.get("/api/v1/ml/engines/list")
    assert [e["engine_id"] for e in listed.json() if e["selected"]] == ["greedy"]

    _select_uploaded(tenant_b, ALL_ON_DEMAND.replace("all-on-demand", "broken").replace(
        'c = request["candidates"][0]', "c = request['nope']"))  # fmt: skip
    broken: Any = tenant_b.post("/api/v1/ml/decision/spot-optimize", json=BODY)
    answer = broken.json()
    assert answer["fallback"] is True and "broken" in answer["fallback_reason"]
    assert answer["engine"] == "spot-optimize" and answer["feasible"] is True


def test_common_cluster_sizes_have_a_plan_in_every_priced_aws_region(
    tenant_a: TenantClient,
) -> None:
    """16 to 256 vCPU in all, from 2- to 16-vCPU nodes, in each of the 22 priced regions."""
    prices = load_catalog().vm_prices
    regions = sorted(set(prices.loc[prices["provider"] == "aws", "region"]))
    assert len(regions) >= 20
    vcpus = dict(zip(prices["instance_type"], prices["vcpus"], strict=True))
    shapes = ((16, 32, 1), (16, 32, 16), (4, 16, 4), (4, 16, 64), (2, 4, 128))
    for region in regions:
        for vcpu, memory_gib, nodes in shapes:
            body = {
                "cluster_id": "sizes",
                "requirements": {"vcpu": vcpu, "memory_gib": memory_gib, "node_count": nodes},
                "constraints": {"regions": [region]},
            }
            plan: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=body).json()
            assert plan["feasible"] is True, (region, vcpu, nodes, plan)
            assert sum(r["count"] for r in plan["recommendations"]) == nodes
            assert all(vcpus[r["instance_type"]] >= vcpu for r in plan["recommendations"])
