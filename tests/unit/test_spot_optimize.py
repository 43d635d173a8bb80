"""The built-in ``spot-optimize`` engine: its guarantees as properties, pinned messages, and
proof that it runs in the real sandbox exactly like an uploaded engine."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skyroute.serve.engines import builtin_spot
from skyroute.serve.engines.builtin_spot import INPUT_SCHEMA, OUTPUT_SCHEMA, decide
from skyroute.serve.engines.sandbox import EngineSandbox, Limits

REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]
TYPES = ["m5.large", "m5.xlarge", "c5.2xlarge", "r5.xlarge"]


def cand(
    instance_type: str = "m5.xlarge",
    region: str = "us-east-1",
    vcpus: float = 4,
    memory_gib: float = 16,
    ondemand: float = 0.192,
    spot: float | None = 0.07,
    risk: float | None = 0.05,
    provider: str = "aws",
) -> dict[str, Any]:
    return {
        "instance_type": instance_type,
        "provider": provider,
        "region": region,
        "vcpus": vcpus,
        "memory_gib": memory_gib,
        "ondemand_price": ondemand,
        "spot_price": spot,
        "interruption_probability": risk,
        "synthetic": False,
    }


def request(
    candidates: list[dict[str, Any]], nodes: int = 10, **constraints: Any
) -> dict[str, Any]:
    return {
        "cluster_id": "c-1",
        "requirements": {"vcpu": 4, "memory_gib": 16, "node_count": nodes},
        "constraints": constraints,
        "candidates": candidates,
    }


# -- independent reference computations ------------------------------------------------------


def key(c: dict[str, Any]) -> tuple[str, str, str]:
    return (c["provider"], c["region"], c["instance_type"])


def eligible(req: dict[str, Any]) -> list[dict[str, Any]]:
    need, regions = req["requirements"], req.get("constraints", {}).get("regions") or []
    return [
        c
        for c in req["candidates"]
        if (not regions or c["region"] in regions)
        and c["vcpus"] >= need["vcpu"]
        and c["memory_gib"] >= need["memory_gib"]
    ]


def qualifying_pools(req: dict[str, Any], cheapest_ondemand: float) -> set[tuple[str, str, str]]:
    """Spot pools the engine may use: known, under the cap, cheaper at reported precision."""
    cap = req.get("constraints", {}).get("max_interruption_probability", 1)
    return {
        key(c)
        for c in eligible(req)
        if c["spot_price"] is not None
        and c["interruption_probability"] is not None
        and c["interruption_probability"] <= cap
        and round(c["spot_price"], 6) < round(cheapest_ondemand, 6)
    }


def source_price(req: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The eligible candidate a recommendation was priced from (the price it reports)."""
    field = "spot_price" if rec["purchase"] == "spot" else "ondemand_price"
    matches = [
        c
        for c in eligible(req)
        if key(c) == key(rec)
        and c[field] is not None
        and math.isclose(c[field], rec["unit_price"], rel_tol=0, abs_tol=5.000001e-7)
    ]
    assert matches, f"{rec} is not priced from an eligible candidate"
    return matches[0]


# -- the property ----------------------------------------------------------------------------

prices = st.one_of(
    st.sampled_from([0.05, 0.1, 0.192, 0.2]),  # ties
    st.floats(min_value=0.01, max_value=2),
    st.floats(min_value=1e-7, max_value=50),  # sub-micro-dollar to absurd
)


def around(base: float, low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=low, max_value=high).map(lambda f: base * f)


@st.composite
def candidates(draw: st.DrawFn, base: float) -> dict[str, Any]:
    """Prices near one market level (ties included), so spot pools can undercut the cheapest
    on-demand; sometimes an unrelated spot price, one equal to on-demand, or none."""
    ondemand = draw(around(base, 1, 1.5) | st.just(base))
    spot = draw(st.none() | around(base, 0.1, 1.1) | st.just(ondemand) | prices)
    return {
        "instance_type": draw(st.sampled_from(TYPES)),
        "provider": draw(st.sampled_from(["aws", "gcp"])),
        "region": draw(st.sampled_from(REGIONS)),
        "vcpus": draw(st.sampled_from([1, 2, 4, 8, 16])),
        "memory_gib": draw(st.sampled_from([2, 4, 8, 16, 32, 64])),
        "ondemand_price": ondemand,
        "spot_price": spot,
        "interruption_probability": draw(
            st.none() | st.floats(min_value=0, max_value=0.3) | st.floats(min_value=0, max_value=1)
        ),
        "synthetic": draw(st.booleans()),
    }


probabilities = st.floats(min_value=0, max_value=1)
constraints = st.fixed_dictionaries(
    {},
    optional={
        "regions": st.lists(st.sampled_from(REGIONS), max_size=3, unique=True),
        "max_interruption_probability": probabilities,
        "on_demand_floor": probabilities | st.sampled_from([0.0, 0.05, 0.1, 0.14, 0.3, 1.0]),
        "max_spot_pools": st.integers(min_value=1, max_value=5),
    },
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "cluster_id": draw(st.text(max_size=8)),
        "requirements": {
            "vcpu": draw(st.sampled_from([0.5, 1, 2, 4])),
            "memory_gib": draw(st.sampled_from([0.5, 2, 8, 16])),
            "node_count": draw(st.integers(min_value=1, max_value=60)),
        },
        "constraints": draw(constraints),
        "candidates": draw(st.lists(candidates(draw(prices)), min_size=1, max_size=12)),
    }


@settings(max_examples=400, deadline=None)
@given(requests())
@example(request([cand(), cand("m5a.xlarge", ondemand=0.172)], nodes=50, on_demand_floor=0.14))
def test_every_plan_keeps_every_guarantee(req: dict[str, Any]) -> None:
    jsonschema.validate(req, INPUT_SCHEMA)
    out = decide(req, {})
    jsonschema.validate(out, OUTPUT_SCHEMA)
    assert out == decide(req, {}), "not deterministic"
    pool = eligible(req)
    assert out["feasible"] == bool(pool)
    if not pool:
        assert out["recommendations"] == [] and out["reason"].startswith("Infeasible: ")
        return
    limits, nodes = req["constraints"], req["requirements"]["node_count"]
    recs = out["recommendations"]
    for rec in recs:
        source_price(req, rec)  # in the allowed regions, big enough per node, priced honestly
    assert sum(r["count"] for r in recs) == nodes

    on_demand = [r for r in recs if r["purchase"] == "on-demand"]
    spot = [r for r in recs if r["purchase"] == "spot"]
    on_count = sum(r["count"] for r in on_demand)
    floor = limits.get("on_demand_floor", 0)
    assert on_count / nodes >= floor
    cap = limits.get("max_interruption_probability", 1)
    assert all(r["interruption_probability"] <= cap for r in spot)
    assert len(spot) <= limits.get("max_spot_pools", 3)
    assert len({key(r) for r in spot}) == len(spot), "a pool twice"

    cheapest = min(c["ondemand_price"] for c in pool)
    assert all(math.isclose(r["unit_price"], cheapest, abs_tol=5.000001e-7) for r in on_demand)
    usable = qualifying_pools(req, cheapest)
    assert {key(r) for r in spot} <= usable
    floor_count = math.ceil(Fraction(str(floor)) * nodes)  # the decimal written
    assert on_count == (floor_count if usable and floor_count < nodes else nodes)
    counts = [r["count"] for r in spot]
    assert counts == sorted(counts, reverse=True) and (not counts or counts[0] - counts[-1] <= 1)
    if spot:
        assert len(spot) == min(limits.get("max_spot_pools", 3), len(usable), nodes - on_count)

    money = out["estimated_savings"]
    for rec in recs:
        assert rec["hourly_cost"] == round(rec["count"] * rec["unit_price"], 6)
    assert round(sum(r["hourly_cost"] for r in recs), 6) == money["plan_hourly"]
    assert money["savings_hourly"] == round(money["baseline_hourly"] - money["plan_hourly"], 6)

    baseline = nodes * cheapest
    plan = sum(r["count"] * source_price(req, r)[_field(r)] for r in recs)
    tolerance = nodes * 1.000001e-6
    assert math.isclose(money["baseline_hourly"], baseline, rel_tol=0, abs_tol=tolerance)
    assert math.isclose(money["plan_hourly"], plan, rel_tol=0, abs_tol=tolerance)
    assert math.isclose(money["savings_hourly"], baseline - plan, rel_tol=0, abs_tol=2 * tolerance)
    assert money["savings_hourly"] >= 0 and money["savings_pct"] >= 0


def _field(rec: dict[str, Any]) -> str:
    return "spot_price" if rec["purchase"] == "spot" else "ondemand_price"


@settings(max_examples=100, deadline=None)
@given(requests(), st.randoms(use_true_random=False))
def test_candidate_order_does_not_matter_when_pools_are_distinct(
    req: dict[str, Any], rng: random.Random
) -> None:
    unique = {key(c): c for c in req["candidates"]}
    req["candidates"] = list(unique.values())
    shuffled = req | {"candidates": rng.sample(req["candidates"], len(req["candidates"]))}
    assert decide(shuffled, {}) == decide(req, {})


# -- examples --------------------------------------------------------------------------------

CATALOG = [
    cand("m5.xlarge", "us-east-1", ondemand=0.192, spot=0.07, risk=0.05),
    cand("m5a.xlarge", "us-east-1", ondemand=0.172, spot=0.08, risk=0.08),
    cand("m6i.xlarge", "eu-west-1", ondemand=0.214, spot=0.06, risk=0.02),
    cand("c5.xlarge", "us-east-1", memory_gib=8, ondemand=0.17, spot=0.05, risk=0.01),
    cand("r5.xlarge", "us-east-1", memory_gib=32, ondemand=0.252, spot=0.09, risk=0.2),
]


def test_the_examples_validate_against_the_input_schema() -> None:
    jsonschema.validate(request(CATALOG, on_demand_floor=0.3), INPUT_SCHEMA)
    jsonschema.validate(request(CATALOG) | {"constraints": {}}, INPUT_SCHEMA)
    no_constraints = request(CATALOG)
    del no_constraints["constraints"]
    jsonschema.validate(no_constraints, INPUT_SCHEMA)
    for broken in (
        request(CATALOG, nodes=0),
        request(CATALOG, on_demand_floor=1.5),
        request([cand(ondemand=0)]),
        request([{k: v for k, v in cand().items() if k != "spot_price"}]),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, INPUT_SCHEMA)


def test_a_floor_and_diversified_spot_pools() -> None:
    out = decide(request(CATALOG, on_demand_floor=0.3, max_interruption_probability=0.1), {})
    got = [(r["instance_type"], r["purchase"], r["count"]) for r in out["recommendations"]]
    # m5a.xlarge is the cheapest eligible on-demand (c5.xlarge has too little memory).
    assert got == [
        ("m5a.xlarge", "on-demand", 3),
        ("m6i.xlarge", "spot", 3),  # the cheapest pool gets the remainder
        ("m5.xlarge", "spot", 2),
        ("m5a.xlarge", "spot", 2),  # r5.xlarge is over the interruption cap
    ]
    assert [s["action"] for s in out["execution_plan"]] == [
        "launch-on-demand", "launch-spot", "launch-spot", "launch-spot",
        "set-interruption-handling",
    ]  # fmt: skip
    assert out["estimated_savings"] | {"baseline": ""} == {
        "baseline_hourly": 1.72,
        "plan_hourly": 0.996,
        "savings_hourly": 0.724,
        "savings_pct": 42.09,
        "baseline": "",
    }


@pytest.mark.parametrize(
    ("floor", "nodes", "on_demand"),
    [(0.0, 5, 0), (0.01, 1, 1), (0.05, 20, 1), (0.1, 10, 1), (0.14, 50, 7), (0.3, 10, 3),
     (0.34, 10, 4)],
)  # fmt: skip
def test_the_floor_is_the_decimal_the_caller_wrote(
    floor: float, nodes: int, on_demand: int
) -> None:
    out = decide(request(CATALOG, nodes=nodes, on_demand_floor=floor), {})
    counts = {r["purchase"]: 0 for r in out["recommendations"]}
    for rec in out["recommendations"]:
        counts[rec["purchase"]] += rec["count"]
    assert counts.get("on-demand", 0) == on_demand and counts.get("spot", 0) == nodes - on_demand


def test_floor_one_means_every_node_on_demand() -> None:
    out = decide(request(CATALOG, nodes=7, on_demand_floor=1.0), {})
    assert [(r["purchase"], r["count"]) for r in out["recommendations"]] == [("on-demand", 7)]
    assert out["reason"] == "All 7 node(s) on-demand: the on-demand floor covers every node."
    assert out["estimated_savings"]["savings_hourly"] == 0
    assert [s["action"] for s in out["execution_plan"]] == ["launch-on-demand", "rebalance"]


@pytest.mark.parametrize(
    ("candidates", "constraints", "reason"),
    [
        ([cand(spot=None)], {},
         "no eligible candidate has a spot price and interruption probability"),
        ([cand(risk=0.3)], {"max_interruption_probability": 0.1},
         "no eligible spot pool has interruption probability ≤ 0.1"),
        ([cand(ondemand=0.1, spot=0.1)], {},
         "no eligible spot pool is cheaper than on-demand $0.100000/h"),
    ],
    ids=["no-spot-price", "too-risky", "not-cheaper"],
)  # fmt: skip
def test_without_a_usable_pool_every_node_is_on_demand_and_the_reason_says_why(
    candidates: list[dict[str, Any]], constraints: dict[str, Any], reason: str
) -> None:
    out = decide(request(candidates, nodes=4, **constraints), {})
    assert [(r["purchase"], r["count"]) for r in out["recommendations"]] == [("on-demand", 4)]
    assert out["reason"] == f"All 4 node(s) on-demand: {reason}."


@pytest.mark.parametrize(
    ("requirements", "regions", "reason"),
    [
        ({}, ["ap-south-1"], "no candidate in regions [ap-south-1]"),
        ({"vcpu": 64}, ["us-east-1", "eu-west-1"],
         "no candidate in regions [us-east-1, eu-west-1] with ≥ 64 vCPU per node"),
        ({"memory_gib": 512}, [],
         "no candidate in any region with ≥ 4 vCPU and ≥ 512 GiB memory per node"),
    ],
    ids=["region", "vcpu", "memory"],
)  # fmt: skip
def test_an_infeasible_request_names_the_blocking_requirement(
    requirements: dict[str, Any], regions: list[str], reason: str
) -> None:
    req = request(CATALOG, regions=regions)
    req["requirements"] |= requirements
    out = decide(req, {})
    jsonschema.validate(out, OUTPUT_SCHEMA)
    assert not out["feasible"] and out["recommendations"] == [] and out["execution_plan"] == []
    assert out["reason"] == f"Infeasible: {reason}."


def test_no_candidates_at_all_is_infeasible() -> None:
    out = decide(request([]), {})
    assert not out["feasible"] and out["reason"] == "Infeasible: no candidate in any region."


# -- in the real sandbox ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EngineSandbox]:
    engines = EngineSandbox(Limits(wall_seconds=5.0))
    yield engines
    engines.close()


def test_it_runs_in_the_sandbox_like_an_uploaded_engine(sandbox: EngineSandbox) -> None:
    source = Path(builtin_spot.__file__).read_text(encoding="utf-8")
    meta = sandbox.inspect("tenant", source)
    assert (meta.name, meta.version) == ("spot-optimize", "1")
    assert meta.input_schema == INPUT_SCHEMA and meta.output_schema == OUTPUT_SCHEMA
    for req in (request(CATALOG, on_demand_floor=0.3), request(CATALOG, regions=["ap-south-1"])):
        result = sandbox.call("tenant", source, req, {})
        assert result.ok, result.fallback_reason
        assert result.output == decide(req, {})
