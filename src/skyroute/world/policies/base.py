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
    feasible,
    has_limits,
    memory_shortfall,
    objective_value,
    reference_outcome,
)
from skyroute.world.physics import Array, Invocations, Outcome, expected_outcome
from skyroute.world.placement import DOMINANCE_MEMORY_MB, PlacementTable
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
    return expected_outcome(inv, p, world, requests.expected_idle_s[rows, None])


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
    """For every request, the feasible candidate with the lowest ``score``.

    ``candidates`` is the policy's preference (e.g. one provider's functions); the objective's
    constraints come first: a row whose preferred placements are all infeasible takes the best
    feasible one elsewhere. Requests with identical profiles are scored once.
    """
    mask = allowed_placements(world, objective.constraints)
    prefer: NDArray[np.bool_] | None = None
    if candidates is not None:
        narrowed = mask & candidates
        if has_limits(objective.constraints):
            prefer = narrowed
        else:
            mask = narrowed if narrowed.any() else mask
    representatives, inverse = unique_rows(requests)
    unique = take_requests(requests, representatives)
    choice = np.empty(len(unique), dtype=np.int64)
    small = unique.expected.memory_mb <= DOMINANCE_MEMORY_MB
    # Sizes that run no faster and cost more are never better for a small function: skip them
    # (every scorer here prefers a placement no worse in cost, latency, carbon and errors).
    for rows_of, usable in ((small, mask & ~world.small_call_dominated), (~small, mask)):
        index = np.flatnonzero(usable)
        preferred = None if prefer is None else prefer[index]
        for start in range(0, int(rows_of.sum()), CHUNK):
            rows = np.flatnonzero(rows_of)[start : start + CHUNK]
            part = take_requests(unique, rows)
            choice[rows] = _choose_among(part, index, preferred, world, objective, score)
    return choice[inverse]


def _choose_among(
    requests: Requests,
    index: NDArray[np.int64],
    preferred: NDArray[np.bool_] | None,
    world: World,
    objective: Objective,
    score: Scorer,
) -> NDArray[np.int64]:
    """The feasible placement among ``index`` with the lowest ``score`` for each request."""
    p = world.placements.take(index)
    inv = expand(requests.expected, slice(None))
    expected = expected_outcomes(requests, slice(None), world, index)
    ref = reference_outcome(inv, world)
    raw = score(Candidates(expected, ref, inv, p, world))
    short = memory_shortfall(inv.memory_mb, p.memory_mb)
    ok, _ = feasible(expected, np.ones(index.shape, dtype=bool), objective.constraints, short)
    if preferred is not None:
        both = ok & preferred
        ok = np.where(both.any(axis=1, keepdims=True), both, ok)
    best: NDArray[np.int64] = index[np.argmin(np.where(ok, raw, np.inf), axis=1)]
    return best


def constraint_check(
    requests: Requests, world: World, objective: Objective, placement: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per request: does ``placement`` keep the hard constraints (names, limits, memory), and is
    the row infeasible (no placement meets them, so only the closest one is allowed)?"""
    static = allowed_placements(world, objective.constraints)
    memory = world.placements.memory_mb
    if not has_limits(objective.constraints):
        fits = memory[None, :] >= requests.expected.memory_mb[:, None]
        usable = static[None, :] & fits
        none: NDArray[np.bool_] = np.asarray(~usable.any(axis=1))
        if not none.any():
            return static[placement] & (memory[placement] >= requests.expected.memory_mb), none
    representatives, inverse = unique_rows(requests)
    unique = take_requests(requests, representatives)
    everything = np.arange(world.n_placements)
    masks, nones = [], []
    for start in range(0, len(unique), CHUNK):
        rows = slice(start, start + CHUNK)
        expected = expected_outcomes(unique, rows, world, everything)
        short = memory_shortfall(unique.expected.memory_mb[rows, None], memory[None, :])
        ok, none = feasible(expected, static, objective.constraints, short)
        masks.append(np.array(ok))
        nones.append(none)
    mask, infeasible = np.concatenate(masks), np.concatenate(nones)
    return mask[inverse, placement], infeasible[inverse]


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
