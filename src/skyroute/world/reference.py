"""A plain per-invocation reference loop, for tests and the speed benchmark only.

It restates the simulator's model (docs/world-model.md) one invocation at a time with Python
scalars and the ``math`` module, sharing nothing with :mod:`skyroute.world.physics`, so that a
test comparing the two catches a mistake in either.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.physics import Invocations, Outcome
from skyroute.world.simulator import Draws


def _cold_probability(world: World, curve: int, idle_s: float | None) -> float:
    if idle_s is None:
        return 1.0
    minutes = world.cold_curve_minutes[curve].tolist()
    prob = world.cold_curve_prob[curve].tolist()
    x = idle_s / 60.0
    if x <= minutes[0]:
        return float(prob[0])
    for k in range(1, len(minutes)):
        if x <= minutes[k]:
            x0, x1, y0, y1 = minutes[k - 1], minutes[k], prob[k - 1], prob[k]
            return float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return float(prob[-1])


def reference_replay(
    actual: Invocations,
    function: NDArray[np.int64],
    timestamp_s: NDArray[np.float64],
    placement: NDArray[np.int64],
    world: World,
    draws: Draws,
) -> Outcome:
    """Same contract as :func:`skyroute.world.simulator.replay`, one call at a time."""
    cfg = world.config
    t = world.placements
    last_call: dict[tuple[int, int], float] = {}
    columns: dict[str, list[float]] = {k: [] for k in Outcome._fields}
    for i in range(len(placement)):
        j = int(placement[i])
        key = (int(function[i]), j)
        previous = last_call.get(key)
        idle = None if previous is None else float(timestamp_s[i]) - previous
        last_call[key] = float(timestamp_s[i])
        cold = (
            1.0 if draws.cold_u[i] < _cold_probability(world, int(t.cold_curve[j]), idle) else 0.0
        )

        share = min(float(t.vcpu[j]), 1.0)
        f = cfg.cpu_bound_fraction
        exec_ms = float(actual.duration_ms[i]) * (f * cfg.reference_vcpu / share + (1.0 - f))
        step = float(t.billing_step_ms[j])
        billed = max(float(t.billing_min_ms[j]), math.ceil(exec_ms / step) * step)
        billed *= float(t.billing_scale[j])
        cost = billed / 1000.0 * float(t.usd_per_second[j]) + float(t.usd_per_request[j])
        energy_kwh = billed / 3_600_000.0 * float(t.power_w[j]) * float(t.pue[j]) / 1000.0
        region = int(t.region[j])
        carbon = energy_kwh * float(world.carbon[region, int(actual.hour[i])])

        rtt = float(world.rtt_ms[int(actual.origin[i]), region])
        transfer = float(actual.payload_kb[i]) * 8.0 / cfg.bandwidth_mbps
        cold_ms = float(t.cold_median_ms[j]) * math.exp(
            float(t.cold_sigma[j]) * float(draws.cold_z[i])
        )
        latency = rtt + transfer + cold * cold_ms + exec_ms

        p_spot = 1.0 - math.exp(-float(t.spot_hazard_per_h[j]) * exec_ms / 3_600_000.0)
        failed = (
            float(actual.memory_mb[i]) > float(t.memory_mb[j])
            or exec_ms > float(t.timeout_ms[j])
            or float(draws.spot_u[i]) < p_spot
        )
        for name, value in zip(
            Outcome._fields, (cost, latency, carbon, cold, 1.0 if failed else 0.0), strict=True
        ):
            columns[name].append(value)
    return Outcome(*(np.array(columns[name]) for name in Outcome._fields))
