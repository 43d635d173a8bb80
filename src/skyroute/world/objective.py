"""Objective weights, hard constraints, and the normalised per-invocation objective.

Two normalisations, chosen by ``Objective.scale``:

* ``scale=None`` (a single decision, e.g. in the server): each term is divided by the same
  invocation's value on the reference placement, so 1.0 means "as good as the reference".
* ``scale=(cost, latency, carbon)`` (a whole trace, set by :func:`with_trace_scale`): each
  term is divided by the reference placement's *mean* over the trace. The mean of the
  per-invocation values is then exactly ``w_cost * total cost / reference total cost +
  w_latency * mean latency / reference mean latency + w_carbon * total carbon / reference
  total carbon + error_penalty * error rate`` -- the figure a user compares policies by -- and
  a policy that minimises each invocation's value minimises the trace's objective.

Each term is divided by the same invocation's value on the reference placement (AWS Lambda,
us-east-1, 512 MB, warm), so 1.0 means "as good as the reference" and the value is defined for
a single request as well as for a whole trace. Errors add ``error_penalty`` each. Lower is better.
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
    #: Mean reference (cost USD, latency ms, carbon g) per invocation; None = per invocation.
    scale: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        weights = (self.cost, self.latency, self.carbon)
        if min(weights) < 0 or sum(weights) <= 0 or self.error_penalty < 0:
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
    latency: float | Array
    carbon: float | Array
    if objective.scale is not None:
        cost, latency, carbon = objective.scale
    else:
        cost, latency, carbon = ref.cost_usd, ref.latency_ms, ref.carbon_g
    return (
        objective.cost * out.cost_usd / cost
        + objective.latency * out.latency_ms / latency
        + objective.carbon * out.carbon_g / carbon
        + objective.error_penalty * out.error
    )


def with_trace_scale(objective: Objective, inv: Invocations, world: World) -> Objective:
    """``objective`` normalised by the reference placement's means over ``inv``."""
    if objective.scale is not None:
        return objective
    ref = reference_outcome(inv, world)
    scale = (float(ref.cost_usd.mean()), float(ref.latency_ms.mean()), float(ref.carbon_g.mean()))
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


def constrained_scores(
    score: Array, expected: Outcome, static_mask: NDArray[np.bool_], constraints: Constraints
) -> Array:
    """``score`` with infeasible candidates pushed to +inf.

    A row where the latency/cost limits rule out every allowed candidate keeps its allowed
    candidates (the least bad is picked) rather than returning nothing.
    """
    allowed = np.broadcast_to(static_mask, score.shape)
    feasible = allowed.copy()
    if constraints.max_latency_ms is not None:
        feasible &= expected.latency_ms <= constraints.max_latency_ms
    if constraints.max_cost_usd is not None:
        feasible &= expected.cost_usd <= constraints.max_cost_usd
    none_left = ~feasible.any(axis=-1, keepdims=True)
    keep = np.where(none_left, allowed, feasible)
    return np.where(keep, score, np.inf)
