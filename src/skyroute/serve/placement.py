"""Placement decisions for API requests, through the world model's policy interface.

Every engine answers with placement indices into the server's :class:`World`; this module turns
API requests into :class:`Requests`, runs the built-in greedy policy, checks an engine's
answer, and computes the expected cost, latency and carbon of what was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import UnknownNameError
from skyroute.serve.schemas import DecideRequest
from skyroute.world.model import World
from skyroute.world.objective import Constraints, Objective, objective_value, reference_outcome
from skyroute.world.placement import Placement
from skyroute.world.profiles import Profile, expected_of, requests_from_profiles
from skyroute.world.requests import Requests, start_hour_of_year


@dataclass
class Answer:
    """One engine's answer for one request."""

    placement: int
    explanation: str
    model_versions: dict[str, str] = field(default_factory=dict)
    fallback_reason: str | None = None


def objective_of(req: DecideRequest, world: World) -> Objective:
    """The request's weights and constraints, checked against the world ("did you mean")."""
    constraints = Constraints(
        providers=tuple(req.constraints.providers),
        regions=tuple(req.constraints.regions),
        max_latency_ms=req.constraints.max_latency_ms,
        max_cost_usd=req.constraints.max_cost,
    )
    for provider in constraints.providers:
        if provider not in world.providers:
            raise UnknownNameError("provider", provider, world.providers)
    for region in constraints.regions:
        if region not in world.region_ids:
            raise UnknownNameError("region", region, world.region_ids)
    w = req.objective
    return Objective(cost=w.cost, latency=w.latency, carbon=w.carbon, constraints=constraints)


def current_hour() -> int:
    return start_hour_of_year(datetime.now(UTC).isoformat())


def to_requests(items: Sequence[DecideRequest], world: World) -> Requests:
    profiles = [
        Profile(
            function_id=r.function.id,
            duration_ms=r.function.duration_ms,
            memory_mb=r.function.memory_mb,
            payload_kb=r.function.payload_kb,
            origin=r.function.origin,
            rate_per_min=r.function.rate_per_min,
        )
        for r in items
    ]
    return requests_from_profiles(profiles, world, current_hour())


def greedy(items: Sequence[DecideRequest], world: World) -> list[Answer]:
    """The world model's weighted-greedy placement; requests sharing an objective go together."""
    from skyroute.world.policies import make_policy

    policy = make_policy("greedy")
    requests = to_requests(items, world)
    answers: list[Answer | None] = [None] * len(items)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(items):
        key = r.objective.model_dump_json() + r.constraints.model_dump_json()
        groups.setdefault(key, []).append(i)
    for rows in groups.values():
        index = np.asarray(rows, dtype=np.int64)
        objective = objective_of(items[rows[0]], world)
        subset = _take(requests, index)
        chosen = policy.decide(subset, world, objective)
        scores = _scores(subset, chosen, world, objective)
        for k, i in enumerate(rows):
            answers[i] = Answer(
                placement=int(chosen[k]),
                explanation=(
                    f"greedy: lowest expected objective {scores[k]:.3f} (reference placement = 1) "
                    "among the placements the constraints allow"
                ),
            )
    return [a for a in answers if a is not None]


def _take(requests: Requests, index: NDArray[np.int64]) -> Requests:
    from skyroute.world.requests import take_requests

    return take_requests(requests, index)


def _scores(
    requests: Requests, chosen: NDArray[np.int64], world: World, objective: Objective
) -> NDArray[np.float64]:
    out = expected_of(requests, chosen, world)
    ref = reference_outcome(requests.expected, world)
    return np.asarray(objective_value(out, ref, objective), dtype=np.float64)


def placement_index(world: World, answer: dict[str, object]) -> int:
    """The world's index of an engine's placement dict (a ValueError if it is not in the world)."""
    try:
        wanted = Placement(
            str(answer["provider"]),
            str(answer["region"]),
            int(str(answer["memory_mb"])),
            str(answer.get("platform", "function")),
            str(answer.get("purchase", "on-demand")),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"engine answer is not a placement: {exc}") from exc
    if ":" in wanted.region:
        wanted = wanted._replace(region=wanted.region.split(":", 1)[1])
    index = _index(world).get(wanted)
    if index is None:
        raise ValueError(f"placement {wanted.label()} is not offered in this world")
    return index


_INDEXES: dict[int, dict[Placement, int]] = {}


def _index(world: World) -> dict[Placement, int]:
    """Placement → index, built once per world."""
    if id(world) not in _INDEXES:
        _INDEXES[id(world)] = {world.describe(i): i for i in range(world.n_placements)}
    return _INDEXES[id(world)]


def expected_dicts(
    items: Sequence[DecideRequest], placements: Sequence[int], world: World
) -> list[dict[str, float]]:
    requests = to_requests(items, world)
    out = expected_of(requests, np.asarray(placements, dtype=np.int64), world)
    return [
        {
            "cost_usd": float(out.cost_usd[i]),
            "latency_ms": float(out.latency_ms[i]),
            "carbon_g": float(out.carbon_g[i]),
        }
        for i in range(len(items))
    ]


def placement_dict(world: World, index: int) -> dict[str, object]:
    p = world.describe(index)
    return {
        "provider": p.provider,
        "region": p.region,
        "memory_mb": int(p.memory_mb),
        "platform": p.platform,
        "purchase": p.purchase,
    }
