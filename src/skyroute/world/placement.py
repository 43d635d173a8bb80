"""The placement space: provider x region x memory x platform x purchase, as flat arrays.

A placement is an integer index into :class:`PlacementTable`; every per-placement quantity the
simulator needs (prices, CPU share, cold-start and keep-alive model, power, spot hazard) is a
column, so outcomes for many invocations are computed by gathering with that index.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.world.providers.base import PLATFORMS, PURCHASES


class Placement(NamedTuple):
    """One readable placement."""

    provider: str
    region: str
    memory_mb: int
    platform: str
    purchase: str

    def label(self) -> str:
        return f"{self.provider}:{self.region}/{self.memory_mb}MB/{self.platform}/{self.purchase}"


@dataclass(frozen=True)
class PlacementTable:
    """Columns describing every placement (all arrays share the same length ``P``)."""

    provider: NDArray[np.int64]
    region: NDArray[np.int64]
    memory_mb: NDArray[np.float64]
    platform: NDArray[np.int64]
    purchase: NDArray[np.int64]
    #: Index into ``skyroute.world.products.PRODUCT_ORDER``.
    product: NDArray[np.int64]
    vcpu: NDArray[np.float64]
    #: USD per billed second of the configured size (vCPU and memory).
    usd_per_second: NDArray[np.float64]
    #: USD per billed second and GB of *observed* memory (Azure Consumption; 0 elsewhere).
    usd_per_observed_gb_second: NDArray[np.float64]
    #: Observed memory is rounded up to this many MB for billing (0: not billed on it).
    observed_memory_step_mb: NDArray[np.float64]
    usd_per_request: NDArray[np.float64]
    #: USD per second a pool task lives without work (POOL products; 0 elsewhere).
    idle_usd_per_second: NDArray[np.float64]
    billing_step_ms: NDArray[np.float64]
    billing_min_ms: NDArray[np.float64]
    #: Cold-start time billed, at most this many ms (0: start-up not billed).
    init_billed_max_ms: NDArray[np.float64]
    #: Billed seconds per second of work (1 / target utilisation for pools, else 1).
    busy_scale: NDArray[np.float64]
    #: ``skyroute.world.products.base.Warmth``: 0 curve, 1 window, 2 billed pool.
    warmth: NDArray[np.int64]
    #: Seconds an idle instance lives after its last call ends (window and pool products).
    keepalive_s: NDArray[np.float64]
    timeout_ms: NDArray[np.float64]
    cold_median_ms: NDArray[np.float64]
    cold_sigma: NDArray[np.float64]
    #: Index of the idle-time -> cold-start-probability curve (see World.cold_curve_minutes).
    cold_curve: NDArray[np.int64]
    #: Power while working and while idling (pool tasks), W.
    power_w: NDArray[np.float64]
    idle_power_w: NDArray[np.float64]
    pue: NDArray[np.float64]
    spot_hazard_per_h: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.provider.shape[0])

    def take(self, index: NDArray[np.int64]) -> PlacementTable:
        """The rows at ``index`` (a gather over every column)."""
        return PlacementTable(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def decode(
    table: PlacementTable,
    index: int,
    providers: tuple[str, ...],
    region_ids: tuple[str, ...],
) -> Placement:
    """The readable :class:`Placement` at ``index``."""
    region_id = region_ids[int(table.region[index])]
    return Placement(
        provider=providers[int(table.provider[index])],
        region=region_id.split(":", 1)[1],
        memory_mb=int(table.memory_mb[index]),
        platform=PLATFORMS[int(table.platform[index])],
        purchase=PURCHASES[int(table.purchase[index])],
    )


#: Calls whose footprint is at most this many MB never need a larger size with the same speed.
DOMINANCE_MEMORY_MB = 2048.0


def dominated_for_small_calls(table: PlacementTable) -> NDArray[np.bool_]:
    """Placements no call of at most ``DOMINANCE_MEMORY_MB`` can prefer, whatever it does.

    ``q`` is dominated when a placement ``p`` of the same product, region and purchase with at
    most ``DOMINANCE_MEMORY_MB`` runs calls exactly as fast (both at one vCPU or more, where more
    CPU no longer helps) and costs and draws no more per second: for such a call ``p`` is never
    worse in cost, latency, carbon or errors, and wins every tie (it comes first).
    """
    out = np.zeros(len(table), dtype=bool)
    speed = np.minimum(table.vcpu, 1.0)
    group = np.stack([table.product, table.region, table.purchase], axis=1)
    small = np.flatnonzero(table.memory_mb <= DOMINANCE_MEMORY_MB)
    for q in np.flatnonzero(table.memory_mb > DOMINANCE_MEMORY_MB):
        same = small[(group[small] == group[q]).all(axis=1) & (speed[small] == speed[q])]
        better = same[
            (table.usd_per_second[same] <= table.usd_per_second[q])
            & (table.idle_usd_per_second[same] <= table.idle_usd_per_second[q])
            & (table.power_w[same] <= table.power_w[q])
            & (table.idle_power_w[same] <= table.idle_power_w[q])
            & (table.cold_median_ms[same] == table.cold_median_ms[q])
            & (table.cold_sigma[same] == table.cold_sigma[q])
            & (table.timeout_ms[same] >= table.timeout_ms[q])
            & (table.spot_hazard_per_h[same] <= table.spot_hazard_per_h[q])
            & (table.usd_per_request[same] <= table.usd_per_request[q])
        ]
        out[q] = better.size > 0
    return out
