"""The offline oracle: knows every invocation's future and gives the lower bound.

For each invocation it takes the placement with the lowest *actual* objective, assuming the
warmest state any policy could reach: a call is cold only if it would be cold even had every
earlier call of the same function gone to that same placement. Any real policy spreads calls
over at least as many warm pools, so (with the shared random draws) its cold starts are a
superset of these and its objective per invocation can only be higher. The oracle's figures
are therefore a bound, not a schedule one could replay.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.model import World
from skyroute.world.objective import (
    Objective,
    allowed_placements,
    constrained_scores,
    objective_value,
    reference_outcome,
)
from skyroute.world.physics import Outcome, cold_probability, outcome
from skyroute.world.policies.base import CHUNK, Policy, expand
from skyroute.world.requests import Hindsight, Requests


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
        index = np.flatnonzero(allowed_placements(world, objective.constraints))
        p = world.placements.take(index)
        n = len(requests)
        choice = np.empty(n, dtype=np.int64)
        parts: list[Outcome] = []
        for start in range(0, n, CHUNK):
            rows = slice(start, start + CHUNK)
            inv = expand(hindsight.actual, rows)
            cold_p = cold_probability(hindsight.function_idle_s[rows, None], p.cold_curve, world)
            cold = (hindsight.cold_u[rows, None] < cold_p).astype(np.float64)
            out = outcome(
                inv, p, world, cold, hindsight.cold_z[rows, None], hindsight.spot_u[rows, None]
            )
            value = objective_value(out, reference_outcome(inv, world), objective)
            scores = constrained_scores(
                value, out, np.ones(index.shape, dtype=bool), objective.constraints
            )
            best = np.argmin(scores, axis=1)
            choice[rows] = index[best]
            picked = np.arange(best.shape[0])
            parts.append(Outcome(*(a[picked, best] for a in out)))
        self._bound = Outcome(*(np.concatenate(column) for column in zip(*parts, strict=True)))
        return choice

    def bound_outcome(
        self, placement: NDArray[np.int64], world: World, hindsight: Hindsight
    ) -> Outcome:
        if self._bound is None:
            raise ConfigError("the oracle has not decided yet", "call decide() first")
        return self._bound
