"""Summary metrics of a simulation, in the shape ``metrics.json`` uses."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from skyroute.world.physics import Array
from skyroute.world.simulator import SimulationResult


class LatencySummary(TypedDict):
    mean: float
    p50: float
    p95: float
    p99: float


class PolicyMetrics(TypedDict):
    cost_usd: float
    latency_ms: LatencySummary
    carbon_g: float
    cold_start_rate: float
    error_rate: float
    objective: float


def summarise(result: SimulationResult) -> PolicyMetrics:
    """Totals for cost and carbon, latency percentiles, rates, and the mean objective."""
    out = result.outcome
    p50, p95, p99 = np.percentile(out.latency_ms, [50, 95, 99])
    return PolicyMetrics(
        cost_usd=float(out.cost_usd.sum()),
        latency_ms=LatencySummary(
            mean=float(out.latency_ms.mean()), p50=float(p50), p95=float(p95), p99=float(p99)
        ),
        carbon_g=float(out.carbon_g.sum()),
        cold_start_rate=float(out.cold.mean()),
        error_rate=float(out.error.mean()),
        objective=float(result.objective.mean()),
    )


def hourly(result: SimulationResult, timestamp_s: Array) -> dict[str, list[float]]:
    """Cost per hour (USD) and mean latency per hour (ms) for the hourly plots."""
    hour = np.floor(timestamp_s / 3600.0).astype(np.int64)
    n = int(hour.max()) + 1
    count = np.bincount(hour, minlength=n)
    cost = np.bincount(hour, weights=result.outcome.cost_usd, minlength=n)
    latency = np.bincount(hour, weights=result.outcome.latency_ms, minlength=n)
    mean_latency = np.divide(latency, count, out=np.zeros(n), where=count > 0)
    return {"cost_usd": cost.tolist(), "latency_ms": mean_latency.tolist()}


def placement_mix(providers: tuple[str, ...], provider_of: NDArray[np.int64]) -> dict[str, float]:
    """Share of invocations per provider (for the report)."""
    shares = np.bincount(provider_of, minlength=len(providers)) / len(provider_of)
    return {name: float(s) for name, s in zip(providers, shares, strict=True)}
