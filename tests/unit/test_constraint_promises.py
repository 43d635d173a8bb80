"""The simulator's greedy and oracle keep every hard constraint, or the row is infeasible.

The same promise the server makes (tests/api/test_constraints.py), on random traces with
functions up to 40 GB and random provider, region, latency and cost limits.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyroute.world.model import World
from skyroute.world.objective import Constraints, Objective
from skyroute.world.policies import make_policy
from skyroute.world.policies.base import constraint_check
from skyroute.world.requests import requests_from_trace
from skyroute.world.simulator import simulate
from skyroute.world.traces.schema import Trace


@st.composite
def traces(draw: st.DrawFn, origins: tuple[str, ...]) -> Trace:
    n = draw(st.integers(2, 25))
    k = draw(st.integers(1, 4))
    memory_of = draw(st.lists(st.floats(32.0, 40_000.0), min_size=k, max_size=k))
    function = np.asarray(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return Trace(
        function=function.astype(np.int32),
        app=np.zeros(n, dtype=np.int32),
        timestamp_s=np.sort(np.asarray(draw(st.lists(st.floats(0, 7200), min_size=n, max_size=n)))),
        duration_ms=np.asarray(draw(st.lists(st.floats(1, 60_000), min_size=n, max_size=n))),
        memory_mb=np.asarray(memory_of)[function],
        payload_kb=np.full(n, 4.0),
        origin=np.asarray(
            draw(st.lists(st.integers(0, len(origins) - 1), min_size=n, max_size=n)),
            dtype=np.int16,
        ),
        function_names=np.array([f"f{i}" for i in range(k)]),
        app_names=np.array(["a"]),
        origin_names=origins,
    )


@st.composite
def limits(draw: st.DrawFn, world: World) -> Constraints:
    providers = draw(st.sampled_from([(), ("aws",), ("gcp",), ("azure", "gcp")]))
    regions: tuple[str, ...] = ()
    if draw(st.booleans()):
        allowed = [r for r in world.region_ids if not providers or r.split(":")[0] in providers]
        regions = tuple(draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=3)))
    latency = draw(st.none() | st.floats(1.0, 5000.0))
    cost = draw(st.none() | st.floats(1e-9, 1e-3))
    return Constraints(providers, regions, latency, cost)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_greedy_and_oracle_keep_every_hard_constraint(
    small_world: World, data: st.DataObject
) -> None:
    trace = data.draw(traces(small_world.origin_ids))
    objective = Objective(constraints=data.draw(limits(small_world)))
    requests = requests_from_trace(trace, small_world)
    for name in ("greedy", "oracle"):
        result = simulate(trace, make_policy(name), small_world, objective, seed=1)
        assert result.constraint_fixes == 0, f"{name} broke a hard constraint"
        ok, infeasible = constraint_check(requests, small_world, objective, result.placement)
        assert ok.all(), name
        np.testing.assert_array_equal(infeasible, result.infeasible)
        # Where a placement keeps the constraints, memory is never short.
        placed = small_world.placements.memory_mb[result.placement]
        fits = placed >= requests.expected.memory_mb
        assert (fits | infeasible).all(), name
