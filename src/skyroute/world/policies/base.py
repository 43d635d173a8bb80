"""The one policy interface: a batch of requests in, one placement index per request out.

The simulator calls it with requests built from a trace; the server calls it with requests
built from API calls. Helpers here score every candidate placement for many requests at once,
in chunks so memory stays bounded on large traces.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.objective import (
    Objective,
    allowed_placements,
    constrained_scores,
    objective_value,
    reference_outcome,
)
from skyroute.world.physics import Array, Invocations, Outcome, cold_probability, outcome
from skyroute.world.placement import PlacementTable
from skyroute.world.providers.base import PLATFORMS, PURCHASES
from skyroute.world.requests import Hindsight, Requests, take_requests, unique_rows

#: Rows scored at once; P candidates x CHUNK rows x 8 bytes x ~10 arrays stays ~100 MB.
CHUNK = 4096


class Policy(abc.ABC):
    """Chooses a placement for every request of a batch."""

    name: ClassVar[str]
    #: True for policies that must be given the future (only the oracle).
    hindsight: ClassVar[bool] = False

    def reset(self, seed: int) -> None:  # noqa: B027 - optional hook, stateless by default
        """Forget state and reseed; called once before a replay."""

    @abc.abstractmethod
    def decide(
        self,
        requests: Requests,
        world: World,
        objective: Objective,
        hindsight: Hindsight | None = None,
    ) -> NDArray[np.int64]:
        """Index into ``world.placements`` for each request."""

    def bound_outcome(
        self, placement: NDArray[np.int64], world: World, hindsight: Hindsight
    ) -> Outcome:
        """Outcomes a hindsight policy claims for its choices (only hindsight policies)."""
        raise TypeError(f"policy {self.name!r} is not a hindsight policy")


def expand(inv: Invocations, rows: slice) -> Invocations:
    """Rows of ``inv`` as column vectors, ready to broadcast against P candidates."""
    return Invocations._make(a[rows, None] for a in inv)


def expected_outcomes(
    requests: Requests, rows: slice, world: World, candidates: NDArray[np.int64]
) -> Outcome:
    """Expected outcomes of requests ``rows`` on every candidate: shape [rows, candidates]."""
    p = world.placements.take(candidates)
    inv = expand(requests.expected, rows)
    idle = requests.expected_idle_s[rows, None]
    cold_p = cold_probability(idle, p.cold_curve, world)
    return outcome(inv, p, world, cold_p, None, None)


@dataclass(frozen=True)
class Candidates:
    """Everything a scorer may look at for a chunk of requests x candidate placements."""

    expected: Outcome
    reference: Outcome
    requests: Invocations
    placements: PlacementTable
    world: World

    @property
    def fails(self) -> Array:
        """1.0 where the request is expected to fail there (too little memory, timeout)."""
        return (self.expected.error >= 0.5).astype(np.float64)


Scorer = Callable[[Candidates], Array]


def choose(
    requests: Requests,
    world: World,
    objective: Objective,
    score: Scorer,
    candidates: NDArray[np.bool_] | None = None,
) -> NDArray[np.int64]:
    """For every request, the allowed candidate with the lowest ``score``.

    ``candidates`` narrows the placements a policy considers (e.g. one provider); the
    objective's constraints narrow them further. Requests with identical profiles are scored
    once.
    """
    mask = allowed_placements(world, objective.constraints)
    if candidates is not None:
        narrowed = mask & candidates
        mask = narrowed if narrowed.any() else mask
    index = np.flatnonzero(mask)
    p = world.placements.take(index)
    representatives, inverse = unique_rows(requests)
    unique = take_requests(requests, representatives)
    choice = np.empty(len(unique), dtype=np.int64)
    for start in range(0, len(unique), CHUNK):
        rows = slice(start, start + CHUNK)
        inv = expand(unique.expected, rows)
        expected = expected_outcomes(unique, rows, world, index)
        ref = reference_outcome(inv, world)
        raw = score(Candidates(expected, ref, inv, p, world))
        scores = constrained_scores(
            raw, expected, np.ones(index.shape, dtype=bool), objective.constraints
        )
        choice[rows] = index[np.argmin(scores, axis=1)]
    return choice[inverse]


def objective_score(objective: Objective) -> Scorer:
    """Score candidates by the weighted objective itself."""
    return lambda c: objective_value(c.expected, c.reference, objective)


def placement_mask(
    world: World,
    provider: str | None = None,
    platform: str | None = None,
    purchase: str | None = None,
) -> NDArray[np.bool_]:
    """Placements of one provider / platform / purchase (None = any)."""
    p = world.placements
    mask = np.ones(len(p), dtype=bool)
    if provider is not None:
        mask &= p.provider == world.providers.index(provider)
    if platform is not None:
        mask &= p.platform == PLATFORMS.index(platform)
    if purchase is not None:
        mask &= p.purchase == PURCHASES.index(purchase)
    return mask
