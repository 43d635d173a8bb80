"""The vectorised simulator against the plain reference loop, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest

from skyroute.world.model import World
from skyroute.world.policies import POLICIES, make_policy
from skyroute.world.reference import reference_replay
from skyroute.world.requests import actual_invocations, requests_from_trace
from skyroute.world.simulator import Draws, replay, simulate
from skyroute.world.traces.schema import Trace


def _first(trace: Trace, n: int) -> Trace:
    from dataclasses import replace

    cut = slice(0, n)
    return replace(
        trace,
        function=trace.function[cut],
        app=trace.app[cut],
        timestamp_s=trace.timestamp_s[cut],
        duration_ms=trace.duration_ms[cut],
        memory_mb=trace.memory_mb[cut],
        payload_kb=trace.payload_kb[cut],
        origin=trace.origin[cut],
    )


@pytest.mark.parametrize("policy_name", ["random", "greedy", "round-robin", "cheapest"])
def test_vectorised_replay_equals_reference_loop(
    small_trace: Trace, small_world: World, policy_name: str
) -> None:
    trace = _first(small_trace, 3000)
    requests = requests_from_trace(trace, small_world)
    actual = actual_invocations(trace, small_world)
    draws = Draws.for_trace(len(trace), seed=11)
    from skyroute.world.objective import Objective

    policy = make_policy(policy_name)
    policy.reset(11)
    placement = policy.decide(requests, small_world, Objective())
    fast = replay(actual, requests.function, requests.timestamp_s, placement, small_world, draws)
    slow = reference_replay(
        actual, requests.function, requests.timestamp_s, placement, small_world, draws
    )
    for name, a, b in zip(fast._fields, fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=name)
    # The comparison is only meaningful if the sample exercises cold starts and warm calls.
    assert 0 < fast.cold.sum() < len(trace)


def test_undersized_and_spot_placements_fail_the_same_way_in_both_replays(
    small_trace: Trace, small_world: World
) -> None:
    """Out-of-memory errors and spot containers, which sensible policies avoid, still agree."""
    from skyroute.world.placement import Placement

    trace = _first(small_trace, 3000)
    requests = requests_from_trace(trace, small_world)
    actual = actual_invocations(trace, small_world)
    draws = Draws.for_trace(len(trace), 4)
    tiny = small_world.find(Placement("aws", "us-east-1", 128, "function", "on-demand"))
    spot = small_world.find(Placement("aws", "eu-west-1", 512, "container", "spot"))
    placement = np.where(np.arange(len(trace)) % 2 == 0, tiny, spot).astype(np.int64)
    fast = replay(actual, requests.function, requests.timestamp_s, placement, small_world, draws)
    slow = reference_replay(
        actual, requests.function, requests.timestamp_s, placement, small_world, draws
    )
    for name, a, b in zip(fast._fields, fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=name)
    assert fast.error[placement == tiny].sum() > 0
    assert fast.error[placement == spot].sum() < (placement == spot).sum()


def test_simulation_is_deterministic_for_a_seed(small_trace: Trace, small_world: World) -> None:
    a = simulate(small_trace, make_policy("random"), small_world, seed=5)
    b = simulate(small_trace, make_policy("random"), small_world, seed=5)
    c = simulate(small_trace, make_policy("random"), small_world, seed=6)
    np.testing.assert_array_equal(a.objective, b.objective)
    assert not np.array_equal(a.objective, c.objective)


def test_oracle_is_a_lower_bound_per_invocation(small_trace: Trace, small_world: World) -> None:
    oracle = simulate(small_trace, make_policy("oracle"), small_world, seed=1)
    for name in POLICIES.names():
        if name == "oracle":
            continue
        other = simulate(small_trace, make_policy(name), small_world, seed=1)
        assert np.all(oracle.objective <= other.objective + 1e-9), name


def test_outcomes_are_finite_and_positive(small_trace: Trace, small_world: World) -> None:
    for name in POLICIES.names():
        out = simulate(small_trace, make_policy(name), small_world, seed=0).outcome
        for column in (out.cost_usd, out.latency_ms, out.carbon_g):
            assert np.isfinite(column).all() and (column > 0).all(), name
