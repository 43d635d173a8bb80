"""The physics of one invocation on one placement, as pure NumPy functions.

Every function broadcasts: pass per-invocation arrays of shape ``(N,)`` with placement columns
gathered to ``(N,)`` to score one placement per invocation, or invocation arrays of shape
``(N, 1)`` with placement columns of shape ``(P,)`` to score every candidate at once.

Model (see docs/world-model.md):
- execution  = duration_ref x (f x ref_vcpu / min(vcpu, 1) + (1 - f)), f = CPU-bound share;
- billed     = max(minimum, ceil(execution / step) x step) x billing_scale;
- cost       = billed x usd_per_second + usd_per_request;
- energy     = billed x (vcpu x W_vcpu + GB x W_GB) x PUE, carbon = energy x grid intensity;
- latency    = RTT + payload / bandwidth + cold start + execution;
- errors     = footprint > memory (out of memory), execution > timeout, spot interruption.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.placement import PlacementTable

Array = NDArray[np.float64]
MS_PER_HOUR = 3_600_000.0


class Invocations(NamedTuple):
    """What the physics needs to know about invocations (actual or expected values)."""

    duration_ms: Array
    memory_mb: Array
    payload_kb: Array
    origin: NDArray[np.int64]
    hour: NDArray[np.int64]


class Outcome(NamedTuple):
    """Per-invocation results; all arrays share one shape."""

    cost_usd: Array
    latency_ms: Array
    carbon_g: Array
    cold: Array
    error: Array


def execution_ms(duration_ms: Array, vcpu: Array, world: World) -> Array:
    """Execution time once the placement's CPU share replaces the reference share."""
    f = world.config.cpu_bound_fraction
    share = np.minimum(vcpu, 1.0)
    return duration_ms * (f * world.config.reference_vcpu / share + (1.0 - f))


def billed_ms(exec_ms: Array, p: PlacementTable) -> Array:
    steps = np.ceil(exec_ms / p.billing_step_ms) * p.billing_step_ms
    return np.maximum(p.billing_min_ms, steps) * p.billing_scale


def cost_usd(billed: Array, p: PlacementTable) -> Array:
    return billed / 1000.0 * p.usd_per_second + p.usd_per_request


def carbon_g(billed: Array, p: PlacementTable, hour: NDArray[np.int64], world: World) -> Array:
    energy_kwh = billed / MS_PER_HOUR * p.power_w * p.pue / 1000.0
    return energy_kwh * world.carbon[p.region, hour]


def network_ms(inv: Invocations, p: PlacementTable, world: World) -> Array:
    transfer = inv.payload_kb * 8.0 / world.config.bandwidth_mbps
    return world.rtt_ms[inv.origin, p.region] + transfer


def cold_start_ms(p: PlacementTable, z: Array | None) -> Array:
    """A draw of the cold-start time for standard normals ``z``; its mean when ``z`` is None."""
    if z is None:
        return p.cold_median_ms * np.exp(0.5 * p.cold_sigma**2)
    return p.cold_median_ms * np.exp(p.cold_sigma * z)


def spot_interruption_probability(exec_ms: Array, p: PlacementTable) -> Array:
    return -np.expm1(-p.spot_hazard_per_h * exec_ms / MS_PER_HOUR)


def cold_probability(idle_s: Array, curve: NDArray[np.int64], world: World) -> Array:
    """Chance of a cold start after ``idle_s`` seconds idle (NaN = never invoked: certain)."""
    idle_min = np.nan_to_num(idle_s / 60.0, nan=np.inf)
    out = np.ones(np.broadcast_shapes(idle_min.shape, curve.shape))
    idle_b = np.broadcast_to(idle_min, out.shape)
    curve_b = np.broadcast_to(curve, out.shape)
    for c, (minutes, prob) in enumerate(
        zip(world.cold_curve_minutes, world.cold_curve_prob, strict=True)
    ):
        mask = curve_b == c
        out[mask] = np.interp(idle_b[mask], minutes, prob, right=prob[-1])
    return np.where(np.isinf(idle_b), 1.0, out)


def outcome(
    inv: Invocations,
    p: PlacementTable,
    world: World,
    cold: Array,
    cold_z: Array | None,
    spot_u: Array | None,
) -> Outcome:
    """Outcomes of invocations on placements.

    ``cold`` is a 0/1 indicator (a realised replay) or a probability (an expectation); with
    ``cold_z``/``spot_u`` None, cold-start time and spot interruption enter as expectations.
    """
    exec_ms = execution_ms(inv.duration_ms, p.vcpu, world)
    billed = billed_ms(exec_ms, p)
    latency = network_ms(inv, p, world) + cold * cold_start_ms(p, cold_z) + exec_ms
    p_spot = spot_interruption_probability(exec_ms, p)
    interrupted = p_spot if spot_u is None else (spot_u < p_spot).astype(np.float64)
    oom = inv.memory_mb > p.memory_mb
    timeout = exec_ms > p.timeout_ms
    error = np.maximum(np.maximum(oom, timeout).astype(np.float64), interrupted)
    return Outcome(
        cost_usd=cost_usd(billed, p),
        latency_ms=latency,
        carbon_g=carbon_g(billed, p, inv.hour, world),
        cold=np.broadcast_to(cold, latency.shape).astype(np.float64),
        error=error,
    )
