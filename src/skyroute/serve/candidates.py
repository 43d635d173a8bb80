"""One batch of decision requests against the server's world: built once, judged once.

:class:`DecisionBatch` turns API requests into the world's :class:`Requests` a single time and
answers everything the decide pipeline asks of them: which placements keep each row's hard
constraints (providers, regions, expected latency, expected cost, memory), which rows have none
(and the closest placement with what it misses), the greedy choice for the rows that need one,
and the expected outcome of what was finally chosen. Expected outcomes over every placement are
computed only for rows whose constraints judge them (latency or cost limits) or that need greedy,
and once per distinct profile.
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
from skyroute.world.objective import (
    Constraints,
    Objective,
    has_limits,
    memory_shortfall,
    objective_value,
    reference_outcome,
    violation,
)
from skyroute.world.physics import Invocations, Outcome, expected_outcome
from skyroute.world.placement import DOMINANCE_MEMORY_MB, Placement
from skyroute.world.profiles import Profile, expected_of, requests_from_profiles
from skyroute.world.requests import Requests, start_hour_of_year, take_requests, unique_rows


@dataclass(frozen=True)
class Miss:
    """How far a placement is from one hard constraint."""

    constraint: str
    limit: float | str
    expected: float | str
    miss: float

    def describe(self) -> str:
        if self.constraint in ("providers", "regions"):
            return f"{self.constraint}: {self.expected} is not in {self.limit}"
        return (
            f"{self.constraint} {self.limit:g}: expected {self.expected:g} "
            f"misses by {self.miss:.3g}"
        )


@dataclass
class Group:
    """Rows sharing one objective and constraints, judged together."""

    rows: NDArray[np.int64]
    objective: Objective
    name_misses: NDArray[np.float64]  # provider and region constraints broken, shape [P]

    @property
    def static(self) -> NDArray[np.bool_]:
        """Placements the provider and region constraints allow (possibly none)."""
        allowed: NDArray[np.bool_] = self.name_misses == 0
        return allowed

    #: Filled by DecisionBatch.judge: per row, the usable placements and whether none keeps
    #: every constraint (then only the closest one is usable).
    usable: NDArray[np.bool_] | None = None
    infeasible: NDArray[np.bool_] | None = None
    #: Per row, the expected outcome on every placement (only when the row was scored).
    expected: Outcome | None = None


@dataclass
class DecisionBatch:
    """The requests of one ``/decide`` call, with everything judged about them."""

    items: Sequence[DecideRequest]
    world: World
    requests: Requests
    groups: list[Group]
    group_of: NDArray[np.int64]
    position: NDArray[np.int64]  # row's index inside its group
    _greedy: dict[int, tuple[int, float]] = field(default_factory=dict)

    @classmethod
    def build(cls, items: Sequence[DecideRequest], world: World) -> DecisionBatch:
        """Convert once; check constraint names against the world ("did you mean")."""
        requests = to_requests(items, world)
        by_key: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            key = item.objective.model_dump_json() + item.constraints.model_dump_json()
            by_key.setdefault(key, []).append(i)
        groups: list[Group] = []
        group_of = np.empty(len(items), dtype=np.int64)
        position = np.empty(len(items), dtype=np.int64)
        for g, rows in enumerate(by_key.values()):
            objective = objective_of(items[rows[0]], world)
            groups.append(
                Group(np.asarray(rows, dtype=np.int64), objective, _name_misses(world, objective))
            )
            group_of[rows] = g
            position[rows] = np.arange(len(rows))
        batch = cls(items, world, requests, groups, group_of, position)
        for group in groups:
            batch._judge(group)
        return batch

    # -- feasibility ---------------------------------------------------------------------

    def _judge(self, group: Group) -> None:
        """Usable placements per row of ``group`` (the world's one constraint semantics)."""
        memory = self.world.placements.memory_mb
        needed = self.requests.expected.memory_mb[group.rows]
        short = memory_shortfall(needed[:, None], memory[None, :])
        if has_limits(group.objective.constraints):
            group.expected = self._expected(group.rows)
            over = violation(group.expected, group.objective.constraints, short)
        else:
            over = short
        ok = group.static[None, :] & (over <= 0.0)
        none: NDArray[np.bool_] = np.asarray(~ok.any(axis=1))
        if none.any():
            # The closest keeps the provider and region constraints if any placement can, and
            # as many of them as it can (each name miss outweighs any relative miss of the
            # limits, so one miss plus the largest limit miss still beats two misses), then
            # misses least.
            names = group.name_misses * (over.max() + 1.0)
            closest = np.argmin((over + names[None, :])[none], axis=1)
            ok[np.flatnonzero(none), closest] = True
        group.usable, group.infeasible = ok, none

    def _expected(
        self, rows: NDArray[np.int64], columns: NDArray[np.int64] | None = None
    ) -> Outcome:
        """Expected outcomes of ``rows`` on every placement (or on ``columns``), once per
        distinct profile."""
        subset = take_requests(self.requests, rows)
        representatives, inverse = unique_rows(subset)
        unique = take_requests(subset, representatives)
        inv = Invocations._make(a[:, None] for a in unique.expected)
        p = self.world.placements if columns is None else self.world.placements.take(columns)
        out = expected_outcome(inv, p, self.world, unique.expected_idle_s[:, None])
        return Outcome._make(np.asarray(a)[inverse] for a in out)

    def usable(self, row: int) -> NDArray[np.bool_]:
        group = self.groups[int(self.group_of[row])]
        assert group.usable is not None
        usable: NDArray[np.bool_] = group.usable[int(self.position[row])]
        return usable

    def infeasible(self, row: int) -> bool:
        group = self.groups[int(self.group_of[row])]
        assert group.infeasible is not None
        return bool(group.infeasible[int(self.position[row])])

    def infeasible_rows(self) -> list[int]:
        return [i for i in range(len(self.items)) if self.infeasible(i)]

    def keeps(self, row: int, placement: int) -> bool:
        """Does ``placement`` keep every hard constraint of ``row`` (or is it the closest)?"""
        return bool(self.usable(row)[placement])

    def closest(self, row: int) -> int:
        """For an infeasible row: the one placement it may use (least total miss)."""
        return int(np.flatnonzero(self.usable(row))[0])

    # -- greedy --------------------------------------------------------------------------

    def greedy(self, rows: Sequence[int]) -> dict[int, tuple[int, float]]:
        """(placement, objective relative to the reference) of greedy for ``rows``.

        Small functions skip the sizes that are never better for them
        (``World.small_call_dominated``: exact, as in the simulator's policies).
        """
        todo = [r for r in rows if r not in self._greedy]
        pruned = np.flatnonzero(~self.world.small_call_dominated)
        for group_index in sorted({int(self.group_of[r]) for r in todo}):
            group = self.groups[group_index]
            mine = np.asarray([r for r in todo if self.group_of[r] == group_index], dtype=np.int64)
            if group.expected is not None:  # judged on every placement already
                self._greedy_part(group, mine, None)
                continue
            small = self.requests.expected.memory_mb[mine] <= DOMINANCE_MEMORY_MB
            for part, columns in ((mine[small], pruned), (mine[~small], None)):
                if part.size:
                    self._greedy_part(group, part, columns)
        return {r: self._greedy[r] for r in rows}

    def _greedy_part(
        self, group: Group, rows: NDArray[np.int64], columns: NDArray[np.int64] | None
    ) -> None:
        local = self.position[rows]
        if group.expected is not None:
            expected = Outcome._make(np.asarray(a)[local] for a in group.expected)
        else:
            expected = self._expected(rows, columns)
        inv = Invocations._make(a[rows, None] for a in self.requests.expected)
        scores = objective_value(expected, reference_outcome(inv, self.world), group.objective)
        assert group.usable is not None
        usable = group.usable[local] if columns is None else group.usable[local][:, columns]
        scores = np.where(usable, scores, np.inf)
        best = np.argmin(scores, axis=1)
        chosen = best if columns is None else columns[best]
        for k, row in enumerate(rows):
            self._greedy[int(row)] = (int(chosen[k]), float(scores[k, best[k]]))

    # -- reporting -----------------------------------------------------------------------

    def misses(self, row: int, placement: int) -> list[Miss]:
        """Every hard constraint ``placement`` breaks for ``row``, with by how much."""
        item, world = self.items[row], self.world
        p = world.describe(placement)
        out: list[Miss] = []
        limits = item.constraints
        if limits.providers and p.provider not in limits.providers:
            out.append(Miss("providers", ", ".join(limits.providers), p.provider, 1.0))
        if limits.regions and f"{p.provider}:{p.region}" not in limits.regions:
            out.append(Miss("regions", ", ".join(limits.regions), f"{p.provider}:{p.region}", 1.0))
        needed = float(self.requests.expected.memory_mb[row])
        if p.memory_mb < needed:
            out.append(Miss("memory_mb", needed, float(p.memory_mb), needed - p.memory_mb))
        if limits.max_latency_ms is not None or limits.max_cost is not None:
            exp = self.expected_for([row], [placement])[0]
            if limits.max_latency_ms is not None and exp.latency_ms > limits.max_latency_ms:
                miss = exp.latency_ms - limits.max_latency_ms
                out.append(Miss("max_latency_ms", limits.max_latency_ms, exp.latency_ms, miss))
            if limits.max_cost is not None and exp.cost_usd > limits.max_cost:
                miss = exp.cost_usd - limits.max_cost
                out.append(Miss("max_cost", limits.max_cost, exp.cost_usd, miss))
        return out

    def checked(self, row: int) -> str:
        """What was checked for ``row``, in words (for explanations)."""
        item = self.items[row]
        limits = item.constraints
        parts = [f"memory ≥ {item.function.memory_mb:g} MB"]
        if limits.providers:
            parts.append("provider in {" + ", ".join(limits.providers) + "}")
        if limits.regions:
            parts.append("region in {" + ", ".join(limits.regions) + "}")
        if limits.max_latency_ms is not None:
            parts.append(f"expected latency ≤ {limits.max_latency_ms:g} ms")
        if limits.max_cost is not None:
            parts.append(f"expected cost ≤ ${limits.max_cost:.3g} per call")
        usable = int(self.usable(row).sum())
        return f"checked {', '.join(parts)}: {usable} of {self.world.n_placements} placements pass"

    def expected_for(self, rows: Sequence[int], placements: Sequence[int]) -> list[ExpectedOut]:
        """Expected cost, latency and carbon of each row on its chosen placement."""
        index = np.asarray(placements, dtype=np.int64)
        subset = take_requests(self.requests, np.asarray(rows, dtype=np.int64))
        out = expected_of(subset, index, self.world)
        return [
            ExpectedOut(float(out.cost_usd[i]), float(out.latency_ms[i]), float(out.carbon_g[i]))
            for i in range(len(rows))
        ]


@dataclass(frozen=True)
class ExpectedOut:
    cost_usd: float
    latency_ms: float
    carbon_g: float


def _name_misses(world: World, objective: Objective) -> NDArray[np.float64]:
    """Per placement, how many of the provider and region constraints it breaks (0, 1 or 2)."""
    c = objective.constraints
    misses = np.zeros(world.n_placements)
    if c.providers:
        wanted = [world.providers.index(p) for p in c.providers]
        misses += ~np.isin(world.placements.provider, wanted)
    if c.regions:
        misses += ~np.isin(world.placements.region, [world.region_ids.index(r) for r in c.regions])
    return misses


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


def placement_dict(world: World, index: int) -> dict[str, object]:
    p = world.describe(index)
    return {
        "provider": p.provider,
        "region": p.region,
        "memory_mb": int(p.memory_mb),
        "platform": p.platform,
        "purchase": p.purchase,
    }
