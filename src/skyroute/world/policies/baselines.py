"""Baseline policies: simple rules and a model-based greedy one.

Rule-based baselines run functions on demand (the way most teams start) and take the smallest
memory size that holds the function's footprint; ``cheapest`` and ``greedy`` may also pick
containers and spot.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.objective import Objective, allowed_placements, has_limits
from skyroute.world.physics import Array, network_ms
from skyroute.world.policies.base import (
    Candidates,
    Policy,
    choose,
    objective_score,
    placement_mask,
)
from skyroute.world.providers.base import FUNCTION, ON_DEMAND
from skyroute.world.requests import Hindsight, Requests

#: Added per expected failure so rules never prefer a placement that cannot run the function.
FAILURE = 1e9
#: Tie-breaker weight: among equally near/green placements take the cheapest.
TIE = 1e-6


def _cost_ratio(c: Candidates) -> Array:
    return c.expected.cost_usd / c.reference.cost_usd


def cheapest_score(c: Candidates) -> Array:
    return c.expected.cost_usd + FAILURE * c.fails


def nearest_score(c: Candidates) -> Array:
    return network_ms(c.requests, c.placements, c.world) + FAILURE * c.fails + TIE * _cost_ratio(c)


def greenest_score(c: Candidates) -> Array:
    intensity = c.world.carbon[c.placements.region, c.requests.hour]
    return intensity + FAILURE * c.fails + TIE * _cost_ratio(c)


class SingleProvider(Policy):
    """One provider's functions only, in its best region and memory for each caller."""

    provider: ClassVar[str]

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        mask = placement_mask(world, self.provider, FUNCTION, ON_DEMAND)
        return choose(requests, world, objective, objective_score(objective), mask)


class OnlyAWS(SingleProvider):
    name = "only-aws"
    provider = "aws"


class OnlyAzure(SingleProvider):
    name = "only-azure"
    provider = "azure"


class OnlyGCP(SingleProvider):
    name = "only-gcp"
    provider = "gcp"


class Cheapest(Policy):
    """The lowest expected bill, whatever the latency or carbon."""

    name = "cheapest"

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        return choose(requests, world, objective, cheapest_score)


class Nearest(Policy):
    """The region with the shortest round trip from the caller (functions, on demand)."""

    name = "nearest"

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        mask = placement_mask(world, platform=FUNCTION, purchase=ON_DEMAND)
        return choose(requests, world, objective, nearest_score, mask)


class Greenest(Policy):
    """The region with the cleanest grid at that hour (functions, on demand)."""

    name = "greenest"

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        mask = placement_mask(world, platform=FUNCTION, purchase=ON_DEMAND)
        return choose(requests, world, objective, greenest_score, mask)


class RoundRobin(Policy):
    """Providers in turn, request by request; the nearest region of each."""

    name = "round-robin"

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        per_provider = [
            choose(
                requests,
                world,
                objective,
                nearest_score,
                placement_mask(world, p, FUNCTION, ON_DEMAND),
            )
            for p in world.providers
        ]
        turn = np.arange(len(requests)) % len(per_provider)
        return np.choose(turn, per_provider)


class Random(Policy):
    """A uniformly random allowed placement among those with enough memory."""

    name = "random"

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed + 7919)

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        if has_limits(objective.constraints):
            # Random among the feasible placements that fit (one draw per request profile).
            rng = self._rng
            return choose(
                requests,
                world,
                objective,
                lambda c: rng.random(c.fails.shape) + FAILURE * c.fails,
            )
        allowed = np.flatnonzero(allowed_placements(world, objective.constraints))
        allowed = allowed[np.argsort(world.placements.memory_mb[allowed], kind="stable")]
        memory = world.placements.memory_mb[allowed]
        first_fit = np.searchsorted(memory, requests.expected.memory_mb, side="left")
        first_fit = np.minimum(first_fit, len(allowed) - 1)
        u = self._rng.random(len(requests))
        pick = first_fit + np.floor(u * (len(allowed) - first_fit)).astype(np.int64)
        return allowed[np.minimum(pick, len(allowed) - 1)]


class Greedy(Policy):
    """Model-based: the lowest *expected* objective under the world model, per request."""

    name = "greedy"

    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        return choose(requests, world, objective, objective_score(objective))
