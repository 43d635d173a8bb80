"""The offline oracle: knows every invocation's future and gives the lower bound.

For each invocation it takes the feasible placement with the lowest *actual* objective,
assuming the warmest state any policy could reach: every earlier call of the same function went
to that same placement. Then a call's gap since the previous start and since the latest end of
earlier calls (which decide its cold start and a pool's billed idle time, see
:mod:`skyroute.world.pools`) are the shortest any policy can see: a policy sends a subset of the
function's calls to each placement, and fewer predecessors only lengthen both gaps. With the
shared random draws its cold starts and idle time are therefore a superset of the oracle's and,
since cost, latency and carbon never fall when a call is cold or a pool idles longer, its
objective per call can only be higher.

Constraints are judged as for every policy (:func:`skyroute.world.objective.feasible`, on the
expected outcome from the caller's profile), so the oracle chooses among the same placements.
The oracle's figures are a bound, not a schedule one could replay.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.model import World
from skyroute.world.objective import (
    Objective,
    allowed_placements,
    feasible,
    has_limits,
    memory_shortfall,
    objective_value,
    reference_outcome,
)
from skyroute.world.physics import Array, Invocations, Outcome, outcome
from skyroute.world.placement import DOMINANCE_MEMORY_MB
from skyroute.world.policies.base import CHUNK, Policy, expected_outcomes
from skyroute.world.pools import end_gaps_by_speed, warmth_from_gaps
from skyroute.world.requests import Hindsight, Requests, take_requests


class Oracle(Policy):
    name = "oracle"
    hindsight = True

    def __init__(self) -> None:
        self._bound: Outcome | None = None

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        if hindsight is None:
            raise ConfigError(
                "the oracle needs the future", "use it only inside the simulator, not to serve"
            )
        allowed = allowed_placements(world, objective.constraints)
        full = np.flatnonzero(allowed)
        pruned = np.flatnonzero(allowed & ~world.small_call_dominated)
        # Pruning is exact only for calls small both in fact and by profile (memory is judged
        # on the profile, as every policy judges it).
        small = (hindsight.actual.memory_mb <= DOMINANCE_MEMORY_MB) & (
            requests.expected.memory_mb <= DOMINANCE_MEMORY_MB
        )
        end_gaps, column_of = end_gaps_by_speed(
            hindsight.function,
            hindsight.timestamp_s,
            hindsight.actual.duration_ms,
            world,
            world.placements.vcpu[full],
        )
        column = np.full(world.n_placements, -1, dtype=np.int64)
        column[full] = column_of
        n = len(requests)
        choice = np.empty(n, dtype=np.int64)
        bound = [np.empty(n) for _ in Outcome._fields]
        for rows_of, index in ((np.flatnonzero(small), pruned), (np.flatnonzero(~small), full)):
            for start in range(0, len(rows_of), CHUNK):
                rows = rows_of[start : start + CHUNK]
                gaps_here = end_gaps[rows][:, column[index]]
                best, out = self._best(
                    rows, index, requests, world, objective, hindsight, gaps_here
                )
                choice[rows] = best
                for column_values, value in zip(bound, out, strict=True):
                    column_values[rows] = value
        self._bound = Outcome(*bound)
        return choice

    @staticmethod
    def _best(
        rows: NDArray[np.int64],
        index: NDArray[np.int64],
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight,
        end_gaps: Array,
    ) -> tuple[NDArray[np.int64], Outcome]:
        """The best placement among ``index`` for calls ``rows``, and its outcome.

        ``end_gaps`` holds each call's pool gap on each candidate, shape [rows, candidates].
        """
        p = world.placements.take(index)
        inv = Invocations._make(a[rows, None] for a in hindsight.actual)
        cold, idle_ms = warmth_from_gaps(
            hindsight.function_idle_s[rows, None], end_gaps, p, world, hindsight.cold_u[rows, None]
        )
        out = outcome(
            inv, p, world, cold, hindsight.cold_z[rows, None], hindsight.spot_u[rows, None], idle_ms
        )
        value = objective_value(out, reference_outcome(inv, world), objective)
        short = memory_shortfall(requests.expected.memory_mb[rows, None], p.memory_mb[None, :])
        # Feasibility judges expected outcomes (as every policy does); without latency or cost
        # limits only memory counts, and any outcome of the right shape will do.
        expected = out
        if has_limits(objective.constraints):
            expected = expected_outcomes(take_requests(requests, rows), slice(None), world, index)
        everywhere = np.ones(index.shape, dtype=bool)
        ok, _ = feasible(expected, everywhere, objective.constraints, short)
        value = np.where(ok, value, np.inf)
        best = np.argmin(value, axis=1)
        picked = np.arange(best.shape[0])
        return index[best], Outcome(*(a[picked, best] for a in out))

    def bound_outcome(
        self, placement: NDArray[np.int64], world: World, hindsight: Hindsight
    ) -> Outcome:
        if self._bound is None:
            raise ConfigError("the oracle has not decided yet", "call decide() first")
        return self._bound
