"""The physics of one invocation on one placement, as pure NumPy functions.

Every function broadcasts: pass per-invocation arrays of shape ``(N,)`` with placement columns
gathered to ``(N,)`` to score one placement per invocation, or invocation arrays of shape
``(N, 1)`` with placement columns of shape ``(P,)`` to score every candidate at once.

Model (see docs/world-model.md):
- execution  = duration_ref x (f x ref_vcpu / min(vcpu, 1) + (1 - f)), f = CPU-bound share;
- billed     = (max(minimum, ceil(execution / step) x step) + cold x min(start, init cap))
               x busy scale;
- cost       = billed x (price per second + observed GB x price per observed GB-s)
               + idle x idle price per second + price per request;
- energy     = (billed x power + idle x idle power) x PUE, carbon = energy x grid intensity;
- latency    = RTT + payload / bandwidth + cold start + execution;
- errors     = footprint > memory (out of memory), execution > timeout, spot interruption.

``idle`` is the time a billed pool task lives without work, attributed to the call that
follows it (see :mod:`skyroute.world.pools`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.placement import PlacementTable
from skyroute.world.products.base import Warmth

Array = NDArray[np.float64]
MS_PER_HOUR = 3_600_000.0
CURVE, WINDOW, POOL = int(Warmth.CURVE), int(Warmth.WINDOW), int(Warmth.POOL)


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


def billed_ms(exec_ms: Array, p: PlacementTable, init_ms: Array | float = 0.0) -> Array:
    """Billed busy time: the execution rounded by the product's rule, plus billed start-up."""
    steps = np.ceil(exec_ms / p.billing_step_ms) * p.billing_step_ms
    return (np.maximum(p.billing_min_ms, steps) + init_ms) * p.busy_scale


def observed_gb(memory_mb: Array, p: PlacementTable) -> Array:
    """Memory billed by observation (Azure Consumption): rounded up to the step, in GB."""
    step = np.where(p.observed_memory_step_mb > 0, p.observed_memory_step_mb, 1.0)
    rounded = np.maximum(np.ceil(memory_mb / step), 1.0) * step
    return np.where(p.observed_memory_step_mb > 0, rounded / 1024.0, 0.0)


def cost_usd(
    billed: Array, p: PlacementTable, memory_mb: Array | float = 0.0, idle_ms: Array | float = 0.0
) -> Array:
    per_second = p.usd_per_second + observed_gb(np.asarray(memory_mb), p) * (
        p.usd_per_observed_gb_second
    )
    return (
        billed / 1000.0 * per_second
        + idle_ms / 1000.0 * p.idle_usd_per_second
        + (p.usd_per_request)
    )


def carbon_g(
    billed: Array,
    p: PlacementTable,
    hour: NDArray[np.int64],
    world: World,
    idle_ms: Array | float = 0.0,
) -> Array:
    energy_kwh = (billed * p.power_w + idle_ms * p.idle_power_w) / MS_PER_HOUR * p.pue / 1000.0
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
    curves = zip(world.cold_curve_minutes, world.cold_curve_prob, strict=True)
    if idle_min.ndim == 2 and idle_min.shape[1] == 1 and curve.ndim == 1:
        # One idle time per row against every placement (profiles x candidates): interpolate
        # each curve once per row, then gather by the placements' curves.
        rows = idle_min[:, 0]
        per_curve = np.stack(
            [np.interp(rows, minutes, prob, right=prob[-1]) for minutes, prob in curves], axis=1
        )
        return np.where(np.isinf(idle_min), 1.0, per_curve[:, curve])
    out = np.ones(np.broadcast_shapes(idle_min.shape, curve.shape))
    idle_b = np.broadcast_to(idle_min, out.shape)
    curve_b = np.broadcast_to(curve, out.shape)
    for c, (minutes, prob) in enumerate(curves):
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
    idle_ms: Array | float = 0.0,
) -> Outcome:
    """Outcomes of invocations on placements.

    ``cold`` is a 0/1 indicator (a realised replay) or a probability (an expectation); with
    ``cold_z``/``spot_u`` None, cold-start time and spot interruption enter as expectations.
    ``idle_ms`` is the billed idle time of a pool attributed to each call (0 elsewhere).
    """
    exec_ms = execution_ms(inv.duration_ms, p.vcpu, world)
    start_ms = cold_start_ms(p, cold_z)
    billed = billed_ms(exec_ms, p, cold * np.minimum(start_ms, p.init_billed_max_ms))
    idle = np.where(p.warmth == POOL, idle_ms, 0.0)
    latency = network_ms(inv, p, world) + cold * start_ms + exec_ms
    p_spot = spot_interruption_probability(exec_ms, p)
    interrupted = p_spot if spot_u is None else (spot_u < p_spot).astype(np.float64)
    oom = inv.memory_mb > p.memory_mb
    timeout = exec_ms > p.timeout_ms
    error = np.maximum(np.maximum(oom, timeout).astype(np.float64), interrupted)
    return Outcome(
        cost_usd=cost_usd(billed, p, inv.memory_mb, idle),
        latency_ms=latency,
        carbon_g=carbon_g(billed, p, inv.hour, world, idle),
        cold=np.broadcast_to(cold, latency.shape).astype(np.float64),
        error=error,
    )


def expected_warmth(
    mean_gap_s: Array, exec_ms: Array, p: PlacementTable, world: World
) -> tuple[Array, Array]:
    """Expected (cold-start probability, billed idle ms) of a call from its profile alone.

    Calls are taken as a Poisson stream with the profile's mean gap ``g`` (rate 1/g). Curve
    products: the measured curve at the mean gap. Window and pool products keep an instance
    ``K`` seconds after a call of ``d`` seconds ends, so the next call is cold with probability
    P(gap > d + K) = exp(-(d + K)/g), and a pool bills E[min((gap - d)+, K)] =
    exp(-d/g) x g x (1 - exp(-K/g)) of idle time per call.
    """
    gap = np.maximum(np.nan_to_num(mean_gap_s, nan=np.inf), 1e-9)
    d = exec_ms / 1000.0
    k = p.keepalive_s
    curve = cold_probability(gap, p.cold_curve, world)
    with np.errstate(over="ignore", invalid="ignore"):
        alive = np.exp(-d / gap)
        cold_kept = np.where(np.isinf(gap), 1.0, alive * np.exp(-k / gap))
        idle_s = np.where(np.isinf(gap), k, alive * gap * -np.expm1(-k / gap))
    cold = np.where(p.warmth == CURVE, curve, cold_kept)
    idle = np.where(p.warmth == POOL, idle_s * 1000.0, 0.0)
    return cold, idle


def expected_outcome(
    inv: Invocations, p: PlacementTable, world: World, mean_gap_s: Array
) -> Outcome:
    """Expected outcome of profiles ``inv`` on ``p`` (cold start and idle in expectation)."""
    exec_ms = execution_ms(inv.duration_ms, p.vcpu, world)
    cold, idle = expected_warmth(mean_gap_s, exec_ms, p, world)
    return outcome(inv, p, world, cold, None, None, idle)
