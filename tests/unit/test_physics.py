"""Properties of the world model's pricing and physics, over generated inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.world.model import World
from skyroute.world.physics import (
    billed_ms,
    cold_probability,
    cost_usd,
    execution_ms,
    spot_interruption_probability,
)

durations = st.floats(0.01, 900_000.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(durations, min_size=1, max_size=20), st.data())
def test_billing_covers_execution_and_cost_grows_with_time(
    small_world: World, values: list[float], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, small_world.n_placements - 1))
    p = small_world.placements.take(np.full(len(values), index))
    exec_ms = np.sort(np.asarray(values))
    billed = billed_ms(exec_ms, p)
    assert (billed >= p.billing_min_ms * p.busy_scale - 1e-9).all()
    assert (billed >= exec_ms * p.busy_scale - 1e-6).all()
    cost = cost_usd(billed, p, memory_mb=np.full(len(values), 300.0))
    assert (cost > 0).all()
    assert (np.diff(cost) >= -1e-15).all()


@settings(max_examples=60, deadline=None)
@given(durations, st.floats(0.05, 4.0), st.floats(0.05, 4.0))
def test_more_cpu_never_runs_slower(
    small_world: World, duration: float, vcpu_a: float, vcpu_b: float
) -> None:
    low, high = sorted((vcpu_a, vcpu_b))
    slow = execution_ms(np.array([duration]), np.array([low]), small_world)
    fast = execution_ms(np.array([duration]), np.array([high]), small_world)
    assert fast[0] <= slow[0] + 1e-9
    assert fast[0] >= duration * (1 - small_world.config.cpu_bound_fraction) - 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 100_000.0), min_size=2, max_size=20))
def test_cold_probability_is_a_non_decreasing_probability(
    small_world: World, idle: list[float]
) -> None:
    idle_s = np.sort(np.asarray(idle))
    for curve in range(len(small_world.cold_curve_minutes)):
        prob = cold_probability(idle_s, np.full(idle_s.shape, curve), small_world)
        assert ((prob >= 0) & (prob <= 1)).all()
        assert (np.diff(prob) >= -1e-12).all()
    never = cold_probability(np.array([np.nan]), np.array([0]), small_world)
    assert never[0] == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(durations, min_size=2, max_size=20))
def test_spot_interruption_grows_with_run_time(small_world: World, values: list[float]) -> None:
    spot = np.flatnonzero(small_world.placements.spot_hazard_per_h > 0)[0]
    p = small_world.placements.take(np.full(len(values), spot))
    prob = spot_interruption_probability(np.sort(np.asarray(values)), p)
    assert ((prob >= 0) & (prob < 1)).all() and (np.diff(prob) >= 0).all()
