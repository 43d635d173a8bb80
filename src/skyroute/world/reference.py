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
    last_start: dict[tuple[int, int], float] = {}
    last_end: dict[tuple[int, int], float] = {}
    columns: dict[str, list[float]] = {k: [] for k in Outcome._fields}
    for i in range(len(placement)):
        j = int(placement[i])
        key = (int(function[i]), j)
        now = float(timestamp_s[i])
        share = min(float(t.vcpu[j]), 1.0)
        f = cfg.cpu_bound_fraction
        exec_ms = float(actual.duration_ms[i]) * (f * cfg.reference_vcpu / share + (1.0 - f))

        keepalive = float(t.keepalive_s[j])
        warmth = int(t.warmth[j])
        if warmth == 0:  # measured idle curve, on the time since the previous start
            previous = last_start.get(key)
            idle = None if previous is None else now - previous
            p_cold = _cold_probability(world, int(t.cold_curve[j]), idle)
            cold = 1.0 if draws.cold_u[i] < p_cold else 0.0
            idle_ms = 0.0
        else:  # kept alive for keepalive_s after the latest end
            latest = last_end.get(key)
            gap = math.inf if latest is None else now - latest
            cold = 1.0 if gap > keepalive else 0.0
            idle_ms = min(max(gap, 0.0), keepalive) * 1000.0 if warmth == 2 else 0.0
        last_start[key] = now
        last_end[key] = max(last_end.get(key, -math.inf), now + exec_ms / 1000.0)

        cold_ms = float(t.cold_median_ms[j]) * math.exp(
            float(t.cold_sigma[j]) * float(draws.cold_z[i])
        )
        step = float(t.billing_step_ms[j])
        billed = max(float(t.billing_min_ms[j]), math.ceil(exec_ms / step) * step)
        billed += cold * min(cold_ms, float(t.init_billed_max_ms[j]))
        billed *= float(t.busy_scale[j])
        per_second = float(t.usd_per_second[j])
        memory_step = float(t.observed_memory_step_mb[j])
        if memory_step > 0:
            used = max(math.ceil(float(actual.memory_mb[i]) / memory_step), 1.0) * memory_step
            per_second += used / 1024.0 * float(t.usd_per_observed_gb_second[j])
        cost = (
            billed / 1000.0 * per_second
            + idle_ms / 1000.0 * float(t.idle_usd_per_second[j])
            + float(t.usd_per_request[j])
        )
        watt_ms = billed * float(t.power_w[j]) + idle_ms * float(t.idle_power_w[j])
        energy_kwh = watt_ms / 3_600_000.0 * float(t.pue[j]) / 1000.0
        region = int(t.region[j])
        carbon = energy_kwh * float(world.carbon[region, int(actual.hour[i])])

        rtt = float(world.rtt_ms[int(actual.origin[i]), region])
        transfer = float(actual.payload_kb[i]) * 8.0 / cfg.bandwidth_mbps
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
