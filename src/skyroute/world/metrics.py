"""Summary metrics of a simulation, in the shape ``metrics.json`` uses."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.physics import Array
from skyroute.world.simulator import SimulationResult


class LatencySummary(TypedDict):
    mean: float
    p50: float
    p95: float
    p99: float
    #: Mean latency of the calls that run under a second on the reference placement.
    mean_short_calls: float


class Mix(TypedDict):
    """Shares of calls by provider, platform, purchase and product."""

    provider: dict[str, float]
    platform: dict[str, float]
    purchase: dict[str, float]
    product: dict[str, float]


class PolicyMetrics(TypedDict):
    cost_usd: float
    latency_ms: LatencySummary
    carbon_g: float
    cold_start_rate: float
    error_rate: float
    objective: float
    #: Share of calls no placement could serve within the hard constraints.
    infeasible_rate: float
    #: Decisions that broke a hard constraint and were replaced (a policy bug if not 0).
    constraint_fixes: int
    mix: Mix


#: A call is "short" when it runs under this long on the reference placement, ms.
SHORT_CALL_MS = 1000.0


def placement_mix_of(world: World, placement: NDArray[np.int64]) -> Mix:
    """Shares of calls per provider, platform, purchase and product."""
    from skyroute.world.products import PRODUCT_ORDER
    from skyroute.world.products.base import PLATFORMS, PURCHASES

    p = world.placements
    return Mix(
        provider=_shares(world.providers, p.provider[placement]),
        platform=_shares(PLATFORMS, p.platform[placement]),
        purchase=_shares(PURCHASES, p.purchase[placement]),
        product=_shares(PRODUCT_ORDER, p.product[placement]),
    )


def _shares(names: tuple[str, ...], codes: NDArray[np.int64]) -> dict[str, float]:
    counts = np.bincount(codes, minlength=len(names)) / max(len(codes), 1)
    return {name: float(c) for name, c in zip(names, counts, strict=True)}


def summarise(
    result: SimulationResult, world: World, short: NDArray[np.bool_] | None = None
) -> PolicyMetrics:
    """Totals for cost and carbon, latency percentiles, rates, mix, and the mean objective.

    ``short`` marks the calls counted in ``latency_ms.mean_short_calls``.
    """
    out = result.outcome
    p50, p95, p99 = np.percentile(out.latency_ms, [50, 95, 99])
    short_mean = float(out.latency_ms[short].mean()) if short is not None and short.any() else 0.0
    infeasible = result.infeasible
    return PolicyMetrics(
        cost_usd=float(out.cost_usd.sum()),
        latency_ms=LatencySummary(
            mean=float(out.latency_ms.mean()),
            p50=float(p50),
            p95=float(p95),
            p99=float(p99),
            mean_short_calls=short_mean,
        ),
        carbon_g=float(out.carbon_g.sum()),
        cold_start_rate=float(out.cold.mean()),
        error_rate=float(out.error.mean()),
        objective=float(result.objective.mean()),
        infeasible_rate=float(infeasible.mean()) if infeasible is not None else 0.0,
        constraint_fixes=result.constraint_fixes,
        mix=placement_mix_of(world, result.placement),
    )


def hourly(result: SimulationResult, timestamp_s: Array) -> dict[str, list[float]]:
    """Cost per hour (USD) and mean latency per hour (ms) for the hourly plots.

    The series cover only the trace's own hours, from its first call's hour (``hour`` holds
    their indices): a held-out slice of the last hours is not plotted after empty ones.
    """
    absolute = np.floor(timestamp_s / 3600.0).astype(np.int64)
    first = int(absolute.min())
    hour = absolute - first
    n = int(hour.max()) + 1
    count = np.bincount(hour, minlength=n)
    cost = np.bincount(hour, weights=result.outcome.cost_usd, minlength=n)
    latency = np.bincount(hour, weights=result.outcome.latency_ms, minlength=n)
    mean_latency = np.divide(latency, count, out=np.zeros(n), where=count > 0)
    return {
        "hour": [float(first + h) for h in range(n)],
        "cost_usd": cost.tolist(),
        "latency_ms": mean_latency.tolist(),
    }
