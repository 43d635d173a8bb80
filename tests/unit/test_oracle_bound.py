"""The oracle bounds every registered policy, call by call, with and without constraints."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyroute.world.model import World
from skyroute.world.objective import Constraints, Objective
from skyroute.world.policies import POLICIES, make_policy
from skyroute.world.simulator import simulate
from skyroute.world.traces.schema import Trace


@st.composite
def small_traces(draw: st.DrawFn, origins: tuple[str, ...]) -> Trace:
    n = draw(st.integers(2, 30))
    n_functions = draw(st.integers(1, 4))
    times = np.sort(draw(st.lists(st.floats(0.0, 7200.0), min_size=n, max_size=n)))
    durations = draw(st.lists(st.floats(1.0, 60_000.0), min_size=n, max_size=n))
    memory = draw(st.lists(st.floats(20.0, 3000.0), min_size=n, max_size=n))
    function = draw(st.lists(st.integers(0, n_functions - 1), min_size=n, max_size=n))
    origin = draw(st.lists(st.integers(0, len(origins) - 1), min_size=n, max_size=n))
    return Trace(
        function=np.asarray(function, dtype=np.int32),
        app=np.zeros(n, dtype=np.int32),
        timestamp_s=np.asarray(times, dtype=np.float64),
        duration_ms=np.asarray(durations, dtype=np.float64),
        memory_mb=np.asarray(memory, dtype=np.float64),
        payload_kb=np.full(n, 4.0),
        origin=np.asarray(origin, dtype=np.int16),
        function_names=np.array([f"f{i}" for i in range(n_functions)]),
        app_names=np.array(["a"]),
        origin_names=origins,
    )


@st.composite
def constraints(draw: st.DrawFn, world: World) -> Constraints:
    providers = draw(st.sampled_from([(), ("aws",), ("azure", "gcp")]))
    regions = draw(st.sampled_from([(), world.region_ids[:6]]))
    if providers and regions and not any(r.split(":")[0] in providers for r in regions):
        regions = ()
    latency = draw(st.none() | st.floats(20.0, 5000.0))
    cost = draw(st.none() | st.floats(1e-8, 1e-3))
    return Constraints(providers, regions, latency, cost)


def _check_bound(trace: Trace, world: World, objective: Objective) -> None:
    oracle = simulate(trace, make_policy("oracle"), world, objective, seed=3)
    for name in POLICIES.names():
        if name == "oracle":
            continue
        other = simulate(trace, make_policy(name), world, objective, seed=3)
        assert other.constraint_fixes == 0, f"{name} broke a hard constraint"
        worse = oracle.objective > other.objective + 1e-9
        assert not worse.any(), (name, np.flatnonzero(worse))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_oracle_bounds_every_policy_without_constraints(
    small_world: World, data: st.DataObject
) -> None:
    trace = data.draw(small_traces(small_world.origin_ids))
    _check_bound(trace, small_world, Objective())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_oracle_bounds_every_policy_under_constraints(
    small_world: World, data: st.DataObject
) -> None:
    trace = data.draw(small_traces(small_world.origin_ids))
    limits = data.draw(constraints(small_world))
    _check_bound(trace, small_world, Objective(constraints=limits))
