"""Objective weights, hard constraints, and the normalised per-invocation objective.

Lower is better. Each call's value is

    w_cost x cost / C + w_latency x latency / max(reference latency, floor) / L
    + w_carbon x carbon / G + error_penalty x error

where "reference" is the same call warm on the reference placement (AWS Lambda, us-east-1,
512 MB). Latency is judged *per call, relative to that call's own reference* (a bounded
slowdown, floor 100 ms by default): a 60 ms call sent across the Pacific is 3x slower, which
matters, while 100 ms on a 20 s batch call does not. Scoring the *mean* latency instead let the
7 % of calls over 10 s decide the latency term alone.

Two normalisations, chosen by ``Objective.scale``:

* ``scale=None`` (a single decision, e.g. in the server): C, G are that call's reference cost
  and carbon, and latency is divided by its reference latency, so 1.0 means "as good as the
  reference".
* ``scale=(C, L, G)`` over a trace (:func:`with_trace_scale`): C and G are the reference's mean
  cost and carbon per call and L the reference's mean bounded slowdown, so the reference scores
  1.0 per term, the trace objective is ``w_cost x total cost / reference total cost + ... ``,
  and because it is a mean of per-call values the oracle that minimises each call bounds it.

Hard constraints (providers, regions, latency SLO, max cost) judge a placement on what a caller
can know: its *expected* outcome from the request's profile. Every policy, the oracle included,
chooses among the same feasible placements (:func:`feasible`); where none is feasible the one
closest to feasible is the only choice, and the simulator counts such calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world.model import World
from skyroute.world.physics import Array, Invocations, Outcome, outcome


@dataclass(frozen=True)
class Constraints:
    """Hard limits a placement must respect; empty means unconstrained."""

    providers: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    max_latency_ms: float | None = None
    max_cost_usd: float | None = None


@dataclass(frozen=True)
class Objective:
    """Weights of the three normalised terms, the error penalty and the constraints."""

    cost: float = 0.4
    latency: float = 0.4
    carbon: float = 0.2
    error_penalty: float = 5.0
    constraints: Constraints = field(default_factory=Constraints)
    #: Mean reference (cost USD, bounded slowdown, carbon g) per call; None = per call.
    scale: tuple[float, float, float] | None = None
    #: Reference latencies below this count as this much when judging slowdown, ms.
    latency_floor_ms: float = 100.0

    def __post_init__(self) -> None:
        weights = (self.cost, self.latency, self.carbon)
        if (
            min(weights) < 0
            or sum(weights) <= 0
            or self.error_penalty < 0
            or not self.latency_floor_ms >= 0
        ):
            raise ConfigError(
                f"objective weights {weights} / error penalty {self.error_penalty} are impossible",
                "use non-negative weights with a positive sum",
            )


def reference_outcome(inv: Invocations, world: World) -> Outcome:
    """The warm outcome of every invocation on the reference placement (the normaliser)."""
    ref = world.placements.take(np.array([world.reference_index]))
    shape = inv.duration_ms.shape
    flat = Invocations._make(np.broadcast_to(a, shape) for a in inv)
    out = outcome(
        flat, ref.take(np.zeros(shape, dtype=np.int64)), world, np.zeros(shape), None, None
    )
    return Outcome(*(np.maximum(a, 1e-12) for a in out))


def objective_value(out: Outcome, ref: Outcome, objective: Objective) -> Array:
    """Per-invocation normalised objective (broadcasts like the outcomes)."""
    cost: float | Array
    slowdown: Array
    carbon: float | Array
    if objective.scale is not None:
        cost, latency_scale, carbon = objective.scale
        slowdown = out.latency_ms / np.maximum(ref.latency_ms, objective.latency_floor_ms)
        slowdown = slowdown / latency_scale
    else:
        cost, carbon = ref.cost_usd, ref.carbon_g
        slowdown = out.latency_ms / ref.latency_ms
    return (
        objective.cost * out.cost_usd / cost
        + objective.latency * slowdown
        + objective.carbon * out.carbon_g / carbon
        + objective.error_penalty * out.error
    )


def with_trace_scale(objective: Objective, inv: Invocations, world: World) -> Objective:
    """``objective`` normalised by the reference placement's means over ``inv``."""
    if objective.scale is not None:
        return objective
    ref = reference_outcome(inv, world)
    slowdown = ref.latency_ms / np.maximum(ref.latency_ms, objective.latency_floor_ms)
    scale = (float(ref.cost_usd.mean()), float(slowdown.mean()), float(ref.carbon_g.mean()))
    return replace(objective, scale=scale)


def allowed_placements(world: World, constraints: Constraints) -> NDArray[np.bool_]:
    """Mask of placements that satisfy the provider and region constraints."""
    mask = np.ones(world.n_placements, dtype=bool)
    if constraints.providers:
        for name in constraints.providers:
            if name not in world.providers:
                raise UnknownNameError("provider", name, world.providers)
        wanted = [world.providers.index(p) for p in constraints.providers]
        mask &= np.isin(world.placements.provider, wanted)
    if constraints.regions:
        for rid in constraints.regions:
            if rid not in world.region_ids:
                raise UnknownNameError("region", rid, world.region_ids)
        wanted = [world.region_ids.index(r) for r in constraints.regions]
        mask &= np.isin(world.placements.region, wanted)
    if not mask.any():
        raise ConfigError("the constraints leave no placement", "relax providers or regions")
    return mask


def has_limits(constraints: Constraints) -> bool:
    """True when the constraints judge expected outcomes (latency or cost), not just names."""
    return constraints.max_latency_ms is not None or constraints.max_cost_usd is not None


def memory_shortfall(needed_mb: Array, offered_mb: Array) -> Array:
    """Relative memory shortfall of a placement (0 = the function fits in it).

    Memory is a hard constraint for every request: a function bigger than its placement runs
    out of memory, so no policy may choose such a placement while one that fits exists.
    """
    return np.maximum(np.asarray(needed_mb) / np.maximum(offered_mb, 1e-9) - 1.0, 0.0)


def violation(expected: Outcome, constraints: Constraints, shortfall: Array | float = 0.0) -> Array:
    """How far each expected outcome is from meeting the limits (0 = meets them all).

    The sum of relative overshoots, e.g. 0.5 for a latency 50 % over the SLO; ``shortfall``
    is the memory term from :func:`memory_shortfall`.
    """
    over = np.zeros(np.shape(expected.latency_ms)) + shortfall
    if constraints.max_latency_ms is not None:
        limit = max(constraints.max_latency_ms, 1e-12)
        over = over + np.maximum(expected.latency_ms / limit - 1.0, 0.0)
    if constraints.max_cost_usd is not None:
        limit = max(constraints.max_cost_usd, 1e-300)
        over = over + np.maximum(expected.cost_usd / limit - 1.0, 0.0)
    return over


def feasible(
    expected: Outcome,
    allowed: NDArray[np.bool_],
    constraints: Constraints,
    shortfall: Array | float = 0.0,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(mask of the placements a row may use, rows where no allowed placement meets the limits).

    ``expected`` has shape [rows, candidates]; ``allowed`` masks the candidates (providers and
    regions); ``shortfall`` is each candidate's memory shortfall for the row. A row with no
    feasible candidate may use only its closest one (least :func:`violation`; ties go to the
    first), so that every policy faces the same choice.
    """
    allowed = np.broadcast_to(allowed, np.shape(expected.latency_ms))
    over = violation(expected, constraints, shortfall)
    ok = allowed & (over <= 0.0)
    none: NDArray[np.bool_] = np.asarray(~ok.any(axis=-1))
    if none.any():
        closest = np.argmin(np.where(allowed[none], over[none], np.inf), axis=-1)
        ok[np.flatnonzero(none), closest] = True
    return ok, none
