"""The learned hierarchy's features and rewards: pure functions checked against plain loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.world import dynamics as dyn
from skyroute.world.model import World
from skyroute.world.objective import Objective
from skyroute.world.observations import GAP_THRESHOLDS_S
from skyroute.world.physics import Invocations
from skyroute.world.policies.learned import minute_history
from skyroute.world.requests import Requests
from skyroute.world.simulator import simulate_placement
from skyroute.world.traces.schema import Trace


def _requests(function: list[int], timestamp: list[float], rate: float = 1.0) -> Requests:
    order = np.argsort(timestamp, kind="stable")
    n = len(function)
    ones = np.ones(n)
    return Requests(
        function=np.asarray(function, dtype=np.int64)[order],
        timestamp_s=np.asarray(timestamp, dtype=np.float64)[order],
        expected=Invocations(ones, ones, ones, np.zeros(n, dtype=np.int64), np.zeros(n, np.int64)),
        rate_per_min=np.full(n, rate),
    )


calls = st.lists(
    st.tuples(st.integers(0, 3), st.floats(0.0, 7_200.0, allow_nan=False)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(calls)
def test_gap_shares_are_each_functions_share_of_long_gaps(rows: list[tuple[int, float]]) -> None:
    requests = _requests([f for f, _ in rows], [t for _, t in rows])
    shares = dyn.gap_shares(requests)
    assert shares.shape == (len(rows), len(GAP_THRESHOLDS_S))
    assert ((shares >= 0) & (shares <= 1)).all()
    assert (np.diff(shares, axis=1) <= 1e-12).all()  # longer thresholds, fewer gaps above
    for i, f in enumerate(requests.function):
        times = requests.timestamp_s[requests.function == f]
        gaps = np.diff(times)
        if gaps.size >= 2:
            expected = [float(np.mean(gaps > s)) for s in GAP_THRESHOLDS_S]
        else:  # too few gaps: a Poisson stream at the profile's rate (1 call per minute)
            expected = [float(np.exp(-s / 60.0)) for s in GAP_THRESHOLDS_S]
        np.testing.assert_allclose(shares[i], expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(calls)
def test_minute_history_counts_each_functions_calls_in_the_12_minutes_before(
    rows: list[tuple[int, float]],
) -> None:
    requests = _requests([f for f, _ in rows], [t for _, t in rows])
    history = minute_history(requests)
    minutes = np.floor(requests.timestamp_s / 60.0).astype(int)
    for i, (f, m) in enumerate(zip(requests.function, minutes, strict=True)):
        mine = minutes[requests.function == f]
        expected = [np.sum(mine == m - lag) for lag in range(12, 0, -1)]
        np.testing.assert_array_equal(history[i], expected)


def test_rewards_are_the_simulators_objective_when_a_function_stays_put(
    small_trace: Trace, small_world: World
) -> None:
    """A sticky policy's replay equals the env's realised objective, call by call."""
    data = dyn.build_env_data(small_trace, small_world, Objective(), seed=3)
    rows = np.arange(data.n_rows, dtype=np.int64)
    ranked = dyn.rank_candidates(data, rows)
    # One placement per function: the rank-1 candidate of its first call's best provider.
    first = np.unique(small_trace.function, return_index=True)[1]
    per_function = np.zeros(small_trace.n_functions, dtype=np.int64)
    per_function[small_trace.function[first]] = ranked.placements[first, 0, 0]
    placement = per_function[small_trace.function]
    replayed = simulate_placement(small_trace, placement, small_world, Objective(), seed=3)
    np.testing.assert_allclose(
        dyn.realised_objective(data, rows, placement), replayed.objective, rtol=1e-9
    )


def test_hierarchy_with_greedy_layers_is_greedy(small_trace: Trace, small_world: World) -> None:
    from skyroute.world.policies import make_policy
    from skyroute.world.policies.learned import HierarchicalPolicy
    from skyroute.world.simulator import simulate

    greedy = simulate(small_trace, make_policy("greedy"), small_world, Objective(), 0)
    layered = simulate(small_trace, HierarchicalPolicy(None, None), small_world, Objective(), 0)
    np.testing.assert_allclose(layered.objective.mean(), greedy.objective.mean(), rtol=1e-9)
