"""Replay a trace under a policy, vectorised with NumPy.

The simulator draws its randomness once per trace and seed (the same draws for every policy, so
policies are compared on identical luck), asks the policy for one placement per invocation, then
computes every outcome in a handful of array operations. ``skyroute.world.reference`` holds the
plain per-invocation loop that tests use to prove this exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.model import World
from skyroute.world.objective import (
    Objective,
    objective_value,
    reference_outcome,
    with_trace_scale,
)
from skyroute.world.physics import Array, Invocations, Outcome, cold_probability, outcome
from skyroute.world.policies.base import Policy
from skyroute.world.requests import (
    Hindsight,
    actual_invocations,
    idle_seconds,
    requests_from_trace,
)
from skyroute.world.traces.schema import Trace


@dataclass(frozen=True)
class Draws:
    """Per-invocation random numbers shared by every policy for one (trace, seed)."""

    cold_u: Array
    cold_z: Array
    spot_u: Array

    @classmethod
    def for_trace(cls, n: int, seed: int) -> Draws:
        rng = np.random.default_rng(seed)
        return cls(cold_u=rng.random(n), cold_z=rng.standard_normal(n), spot_u=rng.random(n))


@dataclass(frozen=True)
class SimulationResult:
    """Everything one replay produced."""

    policy: str
    placement: NDArray[np.int64]
    outcome: Outcome
    objective: Array
    hindsight_bound: bool


def replay(
    actual: Invocations,
    function: NDArray[np.int64],
    timestamp_s: Array,
    placement: NDArray[np.int64],
    world: World,
    draws: Draws,
) -> Outcome:
    """Outcomes when invocation ``i`` runs on ``placement[i]``.

    A warm instance is kept per (function, placement); a call finds it cold with the
    probability the provider's idle curve gives for the time since that pair's previous call.
    """
    p = world.placements.take(placement)
    idle = idle_seconds(function * world.n_placements + placement, timestamp_s)
    cold = (draws.cold_u < cold_probability(idle, p.cold_curve, world)).astype(np.float64)
    return outcome(actual, p, world, cold, draws.cold_z, draws.spot_u)


def hindsight_for(trace: Trace, actual: Invocations, draws: Draws) -> Hindsight:
    return Hindsight(
        actual=actual,
        cold_u=draws.cold_u,
        cold_z=draws.cold_z,
        spot_u=draws.spot_u,
        function_idle_s=idle_seconds(trace.function.astype(np.int64), trace.timestamp_s),
    )


def simulate(
    trace: Trace,
    policy: Policy,
    world: World,
    objective: Objective | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Replay ``trace`` under ``policy``; deterministic for a seed."""
    if len(trace) == 0:
        raise ConfigError("the trace has no invocations", "pass a trace with at least one call")
    draws = Draws.for_trace(len(trace), seed)
    actual = actual_invocations(trace, world)
    objective = with_trace_scale(objective or Objective(), actual, world)
    requests = requests_from_trace(trace, world)
    policy.reset(seed)
    hindsight = hindsight_for(trace, actual, draws) if policy.hindsight else None
    placement = policy.decide(requests, world, objective, hindsight)
    if hindsight is not None:
        # The oracle's figures are the bound it computed, not a replay of its choices.
        out = policy.bound_outcome(placement, world, hindsight)
    else:
        out = replay(actual, requests.function, requests.timestamp_s, placement, world, draws)
    ref = reference_outcome(actual, world)
    return SimulationResult(
        policy=policy.name,
        placement=placement,
        outcome=out,
        objective=objective_value(out, ref, objective),
        hindsight_bound=policy.hindsight,
    )


def simulate_placement(
    trace: Trace,
    placement: NDArray[np.int64],
    world: World,
    objective: Objective | None = None,
    seed: int = 0,
    name: str = "fixed",
) -> SimulationResult:
    """Replay ``trace`` with a given placement per invocation (counterfactuals, datasets)."""
    draws = Draws.for_trace(len(trace), seed)
    actual = actual_invocations(trace, world)
    objective = with_trace_scale(objective or Objective(), actual, world)
    requests = requests_from_trace(trace, world)
    out = replay(actual, requests.function, requests.timestamp_s, placement, world, draws)
    return SimulationResult(
        policy=name,
        placement=placement,
        outcome=out,
        objective=objective_value(out, reference_outcome(actual, world), objective),
        hindsight_bound=False,
    )
