"""Hard constraints are promises: every 200 keeps them all, every infeasible request is said so.

A Hypothesis property test over random functions and constraints, through the real app on
SQLite and PostgreSQL, judged by the world model's own constraint check (the simulator's), and
engines that try to break constraints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from apiclient import TenantClient, decide_body
from skyroute.errors import ConfigError
from skyroute.serve.candidates import current_hour, placement_index
from skyroute.serve.state import server_world
from skyroute.world.objective import Constraints, Objective
from skyroute.world.policies.base import constraint_check
from skyroute.world.profiles import Profile, requests_from_profiles

WORLD = server_world()
REGIONS = list(WORLD.region_ids)
ORIGINS = ["aws:us-east-1", "aws:eu-west-1", "azure:westeurope", "gcp:asia-south1", "aws:sa-east-1"]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    function = {
        "id": "fn",
        "duration_ms": draw(st.floats(1.0, 120_000.0)),
        "memory_mb": draw(st.floats(32.0, 40_000.0)),
        "payload_kb": draw(st.floats(0.0, 4_000.0)),
        "origin": draw(st.sampled_from(ORIGINS)),
        "rate_per_min": draw(st.floats(0.01, 1_000.0)),
    }
    constraints: dict[str, Any] = {}
    if draw(st.booleans()):
        constraints["providers"] = draw(st.lists(st.sampled_from(WORLD.providers), max_size=2))
    if draw(st.booleans()):
        constraints["regions"] = draw(st.lists(st.sampled_from(REGIONS), max_size=3))
    latency = draw(st.none() | st.floats(1e-4, 5_000.0))
    cost = draw(st.none() | st.floats(1e-12, 1e-2))
    if latency is not None:
        constraints["max_latency_ms"] = latency
    if cost is not None:
        constraints["max_cost"] = cost
    weights = draw(st.sampled_from([(0.4, 0.4, 0.2), (1, 0, 0), (0, 1, 0), (0, 0, 1)]))
    return {
        "function": function,
        "objective": dict(zip(("cost", "latency", "carbon"), weights, strict=True)),
        "constraints": constraints,
        "on_infeasible": draw(st.sampled_from(["reject", "closest"])),
    }


def world_verdict(body: dict[str, Any], placement: int) -> tuple[bool | None, bool]:
    """(does ``placement`` keep the constraints, is the request infeasible) by the simulator.

    None when the provider and region constraints exclude every placement (the simulator
    refuses such constraints outright, so it names no closest placement).
    """
    f = body["function"]
    profile = Profile(
        "fn", f["duration_ms"], f["memory_mb"], f["payload_kb"], f["origin"], f["rate_per_min"]
    )
    reqs = requests_from_profiles([profile], WORLD, current_hour())
    c = body["constraints"]
    limits = Constraints(
        tuple(c.get("providers", ())),
        tuple(c.get("regions", ())),
        c.get("max_latency_ms"),
        c.get("max_cost"),
    )
    try:
        ok, infeasible = constraint_check(
            reqs, WORLD, Objective(constraints=limits), np.array([placement])
        )
    except ConfigError:  # the provider and region constraints leave no placement at all
        return None, True
    return bool(ok[0]), bool(infeasible[0])


def keeps_in_the_answer(body: dict[str, Any], answer: dict[str, Any]) -> None:
    """The answer itself shows every constraint kept."""
    c, where, expected = body["constraints"], answer["placement"], answer["expected"]
    assert where["memory_mb"] >= body["function"]["memory_mb"], answer
    if c.get("providers"):
        assert where["provider"] in c["providers"], answer
    if c.get("regions"):
        assert f"{where['provider']}:{where['region']}" in c["regions"], answer
    if c.get("max_latency_ms") is not None:
        assert expected["latency_ms"] <= c["max_latency_ms"] * (1 + 1e-9), answer
    if c.get("max_cost") is not None:
        assert expected["cost_usd"] <= c["max_cost"] * (1 + 1e-9), answer
    assert answer["constraint_violations"] == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=requests())
@example(  # found by this test: a limit miss once outweighed a second name miss
    body={
        "function": {
            "id": "fn", "duration_ms": 1.0, "memory_mb": 32.0, "payload_kb": 0.0,
            "origin": ORIGINS[0], "rate_per_min": 1.0,
        },
        "objective": {"cost": 0.4, "latency": 0.4, "carbon": 0.2},
        "constraints": {"providers": ["aws"], "regions": ["azure:eastus"], "max_latency_ms": 1.0},
        "on_infeasible": "closest",
    }
)  # fmt: skip
def test_every_answer_keeps_every_hard_constraint(
    client: TestClient, tenant_a: TenantClient, body: dict[str, Any]
) -> None:
    response: Any = tenant_a.post("/api/v1/ml/decide", json=body)
    event(f"status {response.status_code}, fallback {response.json().get('fallback')}")
    if response.status_code == 422:
        error = response.json()["error"]
        assert error["code"] == "infeasible", response.text
        assert body["on_infeasible"] == "reject"
        closest = placement_index(WORLD, error["details"][0]["closest"])
        assert world_verdict(body, closest)[1], "the world finds a feasible placement"
        assert error["details"][0]["misses"], response.text
        return
    assert response.status_code == 200, response.text
    answer = response.json()
    placement = placement_index(WORLD, answer["placement"])
    ok, infeasible = world_verdict(body, placement)
    if infeasible:
        assert body["on_infeasible"] == "closest"
        assert answer["fallback"] is True and answer["constraint_violations"], answer
        if ok is None:  # names exclude everything: the closest keeps one of them
            broken = {v["constraint"] for v in answer["constraint_violations"]}
            assert broken & {"providers", "regions"} and not broken >= {"providers", "regions"}
        else:
            assert ok, "the flagged answer is not the closest placement"
        return
    assert ok, answer
    keeps_in_the_answer(body, answer)


HOSTILE = """
NAME = "always-tiny-aws"
VERSION = "1"
DESCRIPTION = "Always the smallest Lambda in us-east-1, whatever is asked."
INPUT_SCHEMA = {"type": "object"}
OUTPUT_SCHEMA = {"type": "object"}

def decide(request, config):
    return {"provider": "aws", "region": "us-east-1", "memory_mb": 128,
            "platform": "function", "purchase": "on-demand", "explanation": "tiny"}
"""


@pytest.fixture
def hostile(tenant_a: TenantClient) -> None:
    uploaded: Any = tenant_a.post(
        "/api/v1/ml/engines/upload", files={"file": ("e.py", HOSTILE.encode(), "text/x-python")}
    )
    assert uploaded.status_code == 201, uploaded.text
    engine_id = uploaded.json()["engine_id"]
    selected: Any = tenant_a.post("/api/v1/ml/engines/select", json={"engine_id": engine_id})
    assert selected.status_code == 200, selected.text


def test_an_engine_cannot_break_a_constraint(
    client: TestClient, tenant_a: TenantClient, hostile: None
) -> None:
    # A function that needs 9,000 MB is never placed on 128 MB (nor on a 1,536 MB container).
    big: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(memory_mb=9000.0))
    assert big.status_code == 200, big.text
    answer = big.json()
    assert answer["placement"]["memory_mb"] >= 9000
    assert answer["fallback"] is True and "memory_mb" in answer["fallback_reason"]
    assert answer["engine"] == "always-tiny-aws"
    # Provider and latency limits likewise.
    body = {**decide_body(), "constraints": {"providers": ["gcp"], "max_latency_ms": 5000}}
    placed: Any = tenant_a.post("/api/v1/ml/decide", json=body)
    assert placed.status_code == 200, placed.text
    assert placed.json()["placement"]["provider"] == "gcp"
    assert placed.json()["fallback"] is True and "providers" in placed.json()["fallback_reason"]
    # What the engine proposes is kept when it keeps the constraints.
    small = decide_body(origin="aws:us-east-1", memory_mb=100.0)
    fine: Any = tenant_a.post("/api/v1/ml/decide", json=small)
    assert fine.json()["fallback"] is False and fine.json()["placement"]["memory_mb"] == 128


def test_impossible_limits_are_refused_with_the_closest_placement(
    client: TestClient, tenant_a: TenantClient
) -> None:
    for constraints, missed in (
        ({"max_latency_ms": 50.0}, "max_latency_ms"),
        ({"max_cost": 1e-12}, "max_cost"),
        ({"max_latency_ms": 0.0001}, "max_latency_ms"),
    ):
        body = {**decide_body(duration_ms=120.0), "constraints": constraints}
        refused: Any = tenant_a.post("/api/v1/ml/decide", json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "infeasible" and missed in error["message"]
        assert "on_infeasible" in error["fix"]
        assert error["details"][0]["misses"][0]["constraint"] == missed
        closest: Any = tenant_a.post("/api/v1/ml/decide", json={**body, "on_infeasible": "closest"})
        assert closest.status_code == 200, closest.text
        answer = closest.json()
        assert answer["fallback"] is True
        assert answer["placement"] == error["details"][0]["closest"]
        assert answer["constraint_violations"][0]["constraint"] == missed
        assert answer["constraint_violations"][0]["miss"] > 0
    # In a batch, the refusal names the request.
    batch = {"requests": [decide_body(), {**decide_body(), "constraints": {"max_cost": 1e-12}}]}
    refused = tenant_a.post("/api/v1/ml/decide/batch", json=batch)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert refused.json()["error"]["message"].startswith("request 1:")  # type: ignore[attr-defined]


def test_large_functions_get_large_placements(client: TestClient, tenant_a: TenantClient) -> None:
    for memory in (9000.0, 12_000.0, 30_000.0):
        placed: Any = tenant_a.post("/api/v1/ml/decide", json=decide_body(memory_mb=memory))
        assert placed.status_code == 200, placed.text
        assert placed.json()["placement"]["memory_mb"] >= memory
        assert placed.json()["fallback"] is False
