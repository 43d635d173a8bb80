"""The built-in ``spot-optimize`` engine: a cluster's nodes over on-demand and spot pools.

Like every engine (docs/engines.md) this is one module that runs in the sandbox, so it imports
only allowed standard-library modules; tenants replace it with their own engine of the same
schemas.

The requirements are **per node**: every node must have at least ``vcpu`` vCPUs and
``memory_gib`` GiB, and the cluster has exactly ``node_count`` nodes. A candidate is eligible
when it is in one of ``constraints.regions`` (empty or missing: any region) and big enough for
one node.

The plan:

1. ``ceil(on_demand_floor × node_count)`` nodes (the floor read as the decimal written) run
   on-demand on the cheapest eligible candidate -- the capacity that must survive a spot
   reclaim.
2. The other nodes run on spot pools: eligible candidates with a known spot price and
   interruption probability ≤ ``max_interruption_probability`` whose spot price is below that
   cheapest on-demand price. They are spread as evenly as possible over up to
   ``max_spot_pools`` of the cheapest pools (the cheapest get the remainder), because nodes in
   one pool tend to be reclaimed together. With no such pool they run on-demand as well.

The baseline is every node on the cheapest eligible on-demand candidate; since spot replaces
only that, and only where cheaper, the plan never costs more. Money is computed in whole
micro-dollars (1e-6 USD/hour) and reported as floats with 6 decimals: the reported hourly costs,
summed and rounded to 6 decimals, equal ``plan_hourly`` exactly. Ties are broken by (price,
region, instance_type, provider), so the answer is deterministic. ``config`` is not used.
"""

import fractions
import math
from typing import Any

NAME = "spot-optimize"
VERSION = "1"
DESCRIPTION = (
    "Per-node sizing, an on-demand floor on the cheapest eligible type, the rest diversified "
    "over the cheapest spot pools under an interruption-probability cap."
)

_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
_MONEY = {"type": "number", "minimum": 0}

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["cluster_id", "requirements", "candidates"],
    "properties": {
        "cluster_id": {"type": "string"},
        "requirements": {
            "description": "What each node needs; the cluster has exactly node_count nodes.",
            "type": "object",
            "required": ["vcpu", "memory_gib", "node_count"],
            "properties": {
                "vcpu": {"type": "number", "exclusiveMinimum": 0},
                "memory_gib": {"type": "number", "exclusiveMinimum": 0},
                "node_count": {"type": "integer", "minimum": 1},
            },
        },
        "constraints": {
            "type": "object",
            "properties": {
                "regions": {"type": "array", "items": {"type": "string"}},
                "max_interruption_probability": _PROBABILITY | {"default": 1},
                "on_demand_floor": _PROBABILITY | {"default": 0},
                "max_spot_pools": {"type": "integer", "minimum": 1, "default": 3},
            },
        },
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "instance_type", "provider", "region", "vcpus", "memory_gib",
                    "ondemand_price", "spot_price", "interruption_probability", "synthetic",
                ],
                "properties": {
                    "instance_type": {"type": "string"},
                    "provider": {"type": "string"},
                    "region": {"type": "string"},
                    "vcpus": {"type": "number", "minimum": 0},
                    "memory_gib": {"type": "number", "minimum": 0},
                    "ondemand_price": {"type": "number", "exclusiveMinimum": 0},
                    "spot_price": {"type": ["number", "null"], "exclusiveMinimum": 0},
                    "interruption_probability": {
                        "type": ["number", "null"], "minimum": 0, "maximum": 1,
                    },
                    "synthetic": {"type": "boolean"},
                },
            },
        },
    },
}  # fmt: skip

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "cluster_id", "feasible", "reason", "recommendations", "execution_plan",
        "estimated_savings",
    ],
    "properties": {
        "cluster_id": {"type": "string"},
        "feasible": {"type": "boolean"},
        "reason": {"type": "string"},
        "recommendations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "instance_type", "provider", "region", "purchase", "count", "unit_price",
                    "hourly_cost", "interruption_probability", "synthetic",
                ],
                "properties": {
                    "instance_type": {"type": "string"},
                    "provider": {"type": "string"},
                    "region": {"type": "string"},
                    "purchase": {"enum": ["on-demand", "spot"]},
                    "count": {"type": "integer", "minimum": 1},
                    "unit_price": _MONEY,
                    "hourly_cost": _MONEY,
                    "interruption_probability": {"type": ["number", "null"]},
                    "synthetic": {"type": "boolean"},
                },
            },
        },
        "execution_plan": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["step", "action", "detail"],
                "properties": {
                    "step": {"type": "integer", "minimum": 1},
                    "action": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
        "estimated_savings": {
            "type": "object",
            "required": [
                "baseline_hourly", "plan_hourly", "savings_hourly", "savings_pct", "baseline",
            ],
            "properties": {
                "baseline_hourly": {"type": "number"},
                "plan_hourly": {"type": "number"},
                "savings_hourly": {"type": "number"},
                "savings_pct": {"type": "number"},
                "baseline": {"type": "string"},
            },
        },
    },
}  # fmt: skip


def decide(request: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The plan for ``request`` (validated against INPUT_SCHEMA by the caller)."""
    need = request["requirements"]
    limits = request.get("constraints") or {}
    nodes = int(need["node_count"])
    eligible, blocker = _eligible(request["candidates"], need, limits.get("regions") or [])
    if not eligible:
        return _infeasible(request["cluster_id"], blocker)
    ondemand = min(eligible, key=lambda c: _order(c, "ondemand_price"))
    floor_count = _floor_count(limits.get("on_demand_floor", 0), nodes)
    pools, why_not = _spot_pools(eligible, ondemand, limits)
    spread = _spread(nodes - floor_count, pools, int(limits.get("max_spot_pools", 3)))
    on_count = nodes - sum(count for _, count in spread)
    recs = ([_rec(ondemand, "on-demand", on_count)] if on_count else []) + [
        _rec(pool, "spot", count) for pool, count in spread
    ]
    reason = _reason(on_count, floor_count, nodes, len(spread), why_not)
    if any(r["synthetic"] for r in recs):
        reason += " Some prices are synthetic (estimated, not quoted by the provider)."
    return {
        "cluster_id": request["cluster_id"],
        "feasible": True,
        "reason": reason,
        "recommendations": recs,
        "execution_plan": _steps(recs, ondemand, nodes),
        "estimated_savings": _savings(recs, ondemand, nodes),
    }


def _eligible(
    candidates: list[dict[str, Any]], need: dict[str, Any], regions: list[str]
) -> tuple[list[dict[str, Any]], str]:
    """Candidates that can host one node, or none and the requirement that ruled them out.

    The filters apply one after another so the reason names the first one that empties the
    list -- the requirement to relax.
    """
    where = f"in regions [{', '.join(regions)}]" if regions else "in any region"
    left = [c for c in candidates if not regions or c["region"] in regions]
    if not left:
        return [], f"no candidate {where}"
    left = [c for c in left if c["vcpus"] >= need["vcpu"]]
    if not left:
        return [], f"no candidate {where} with ≥ {need['vcpu']:g} vCPU per node"
    left = [c for c in left if c["memory_gib"] >= need["memory_gib"]]
    if not left:
        return [], (
            f"no candidate {where} with ≥ {need['vcpu']:g} vCPU and "
            f"≥ {need['memory_gib']:g} GiB memory per node"
        )
    return left, ""


def _floor_count(floor: float, nodes: int) -> int:
    """``ceil(floor × nodes)`` with the floor read as the decimal the caller wrote.

    Neither the float product (0.14 × 50 → 7.000000000000001 → 8) nor the float's exact
    binary value (0.1 is a hair above 1/10, so 10% of 10 nodes → 2) gives what was meant.
    """
    return math.ceil(fractions.Fraction(str(floor)) * nodes)


def _spot_pools(
    eligible: list[dict[str, Any]], ondemand: dict[str, Any], limits: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Usable spot pools, cheapest first and one per (provider, region, type); else why none.

    A pool must be cheaper than the on-demand node it replaces, which is what keeps the plan
    at or below the baseline.
    """
    cap = limits.get("max_interruption_probability", 1)
    known = [
        c
        for c in eligible
        if c["spot_price"] is not None and c["interruption_probability"] is not None
    ]
    safe = [c for c in known if c["interruption_probability"] <= cap]
    cheaper = [c for c in safe if _micros(c["spot_price"]) < _micros(ondemand["ondemand_price"])]
    pools: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for candidate in sorted(cheaper, key=lambda c: _order(c, "spot_price")):
        key = (candidate["provider"], candidate["region"], candidate["instance_type"])
        if key not in seen:
            seen.add(key)
            pools.append(candidate)
    if pools:
        return pools, ""
    if not known:
        return [], "no eligible candidate has a spot price and interruption probability"
    if not safe:
        return [], f"no eligible spot pool has interruption probability ≤ {cap:g}"
    return [], f"no eligible spot pool is cheaper than on-demand {_usd(ondemand['ondemand_price'])}"


def _spread(
    count: int, pools: list[dict[str, Any]], max_pools: int
) -> list[tuple[dict[str, Any], int]]:
    """``count`` nodes as evenly as possible over the cheapest pools (they get the remainder)."""
    used = pools[: min(max_pools, count)]
    if not used:
        return []
    each, extra = divmod(count, len(used))
    return [(pool, each + (1 if i < extra else 0)) for i, pool in enumerate(used)]


def _order(candidate: dict[str, Any], price: str) -> tuple[Any, ...]:
    return (
        candidate[price],
        candidate["region"],
        candidate["instance_type"],
        candidate["provider"],
    )


def _micros(usd: float) -> int:
    """Whole micro-dollars: integer sums make the reported totals add up exactly."""
    return round(usd * 1_000_000)


def _usd(usd: float) -> str:
    return f"${_micros(usd) / 1_000_000:.6f}/h"


def _rec(candidate: dict[str, Any], purchase: str, count: int) -> dict[str, Any]:
    spot = purchase == "spot"
    unit = _micros(candidate["spot_price" if spot else "ondemand_price"])
    return {
        "instance_type": candidate["instance_type"],
        "provider": candidate["provider"],
        "region": candidate["region"],
        "purchase": purchase,
        "count": count,
        "unit_price": unit / 1_000_000,
        "hourly_cost": count * unit / 1_000_000,
        "interruption_probability": candidate["interruption_probability"] if spot else None,
        "synthetic": bool(candidate["synthetic"]),
    }


def _label(rec: dict[str, Any]) -> str:
    return f"{rec['instance_type']} ({rec['provider']} {rec['region']})"


def _reason(on_count: int, floor_count: int, nodes: int, pools: int, why_not: str) -> str:
    spot = nodes - on_count
    if spot:
        return (
            f"{spot} of {nodes} node(s) on spot over {pools} pool(s) to limit correlated "
            f"interruptions; {on_count} on-demand for the on-demand floor."
        )
    if floor_count == nodes:
        return f"All {nodes} node(s) on-demand: the on-demand floor covers every node."
    return f"All {nodes} node(s) on-demand: {why_not}."


def _steps(
    recs: list[dict[str, Any]], ondemand: dict[str, Any], nodes: int
) -> list[dict[str, Any]]:
    """Launch the on-demand floor first (it must be up before spot can vanish), then spot."""
    details = []
    for rec in recs:
        each = f"{rec['count']} × {_label(rec)} {rec['purchase']} at {_usd(rec['unit_price'])}"
        if rec["purchase"] == "on-demand":
            details.append(("launch-on-demand", f"Launch {each} each."))
        else:
            risk = f"interruption probability {rec['interruption_probability']:.1%}"
            details.append(("launch-spot", f"Request {each} each ({risk})."))
    pools = [_label(r) for r in recs if r["purchase"] == "spot"]
    if pools:
        details.append(
            (
                "set-interruption-handling",
                "On a spot interruption notice, drain the node and replace it in another of "
                f"[{', '.join(pools)}], or on-demand {_label(ondemand)} when none has "
                f"capacity; rebalance back to this plan to keep {nodes} node(s).",
            )
        )
    else:
        details.append(
            (
                "rebalance",
                "All nodes are on-demand; run spot-optimize again when spot prices or the "
                "constraints change.",
            )
        )
    return [{"step": i, "action": a, "detail": d} for i, (a, d) in enumerate(details, start=1)]


def _savings(recs: list[dict[str, Any]], ondemand: dict[str, Any], nodes: int) -> dict[str, Any]:
    unit = _micros(ondemand["ondemand_price"])
    baseline = nodes * unit
    plan = sum(r["count"] * _micros(r["unit_price"]) for r in recs)
    return {
        "baseline_hourly": baseline / 1_000_000,
        "plan_hourly": plan / 1_000_000,
        "savings_hourly": (baseline - plan) / 1_000_000,
        "savings_pct": round(100 * (baseline - plan) / baseline, 2) if baseline else 0.0,
        "baseline": f"{nodes} × {ondemand['instance_type']} ({ondemand['provider']} "
        f"{ondemand['region']}) on-demand at {_usd(ondemand['ondemand_price'])} each",
    }


def _infeasible(cluster_id: str, blocker: str) -> dict[str, Any]:
    return {
        "cluster_id": cluster_id,
        "feasible": False,
        "reason": f"Infeasible: {blocker}.",
        "recommendations": [],
        "execution_plan": [],
        "estimated_savings": {
            "baseline_hourly": 0.0,
            "plan_hourly": 0.0,
            "savings_hourly": 0.0,
            "savings_pct": 0.0,
            "baseline": "none: no eligible candidate",
        },
    }
