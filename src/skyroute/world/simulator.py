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
from skyroute.world.physics import Array, Invocations, Outcome, execution_ms, outcome
from skyroute.world.policies.base import Policy
from skyroute.world.pools import gaps, warmth_from_gaps
from skyroute.world.requests import (
    Hindsight,
    Requests,
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
    #: Calls no placement could serve within the hard constraints (the closest one was used).
    infeasible: NDArray[np.bool_] | None = None
    #: Decisions that broke a hard constraint and were replaced by the best feasible placement.
    constraint_fixes: int = 0


def replay(
    actual: Invocations,
    function: NDArray[np.int64],
    timestamp_s: Array,
    placement: NDArray[np.int64],
    world: World,
    draws: Draws,
) -> Outcome:
    """Outcomes when invocation ``i`` runs on ``placement[i]``.

    Warm instances are kept per (function, placement) as :mod:`skyroute.world.pools` says.
    """
    p = world.placements.take(placement)
    end_s = timestamp_s + execution_ms(actual.duration_ms, p.vcpu, world) / 1000.0
    start_gap, end_gap = gaps(function * world.n_placements + placement, timestamp_s, end_s)
    cold, idle_ms = warmth_from_gaps(start_gap, end_gap, p, world, draws.cold_u)
    return outcome(actual, p, world, cold, draws.cold_z, draws.spot_u, idle_ms)


def hindsight_for(trace: Trace, actual: Invocations, draws: Draws) -> Hindsight:
    return Hindsight(
        actual=actual,
        cold_u=draws.cold_u,
        cold_z=draws.cold_z,
        spot_u=draws.spot_u,
        function_idle_s=idle_seconds(trace.function.astype(np.int64), trace.timestamp_s),
        function=trace.function.astype(np.int64),
        timestamp_s=trace.timestamp_s.astype(np.float64),
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
    placement, infeasible, fixes = _keep_constraints(requests, world, objective, placement)
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
        infeasible=infeasible,
        constraint_fixes=fixes,
    )


def _keep_constraints(
    requests: Requests, world: World, objective: Objective, placement: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_], int]:
    """Hold every policy to the hard constraints (the oracle's bound depends on it).

    A decision outside the feasible placements is replaced by the best feasible one (by
    expected objective) and counted, so a report can say a policy broke a promise.
    """
    from skyroute.world.policies.base import choose, constraint_check, objective_score
    from skyroute.world.requests import take_requests

    ok, infeasible = constraint_check(requests, world, objective, placement)
    if ok.all():
        return placement, infeasible, 0
    bad = np.flatnonzero(~ok)
    fixed = placement.copy()
    fixed[bad] = choose(take_requests(requests, bad), world, objective, objective_score(objective))
    return fixed, infeasible, int(bad.size)


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
