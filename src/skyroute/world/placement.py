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
    vcpu: NDArray[np.float64]
    usd_per_second: NDArray[np.float64]
    usd_per_request: NDArray[np.float64]
    billing_step_ms: NDArray[np.float64]
    billing_min_ms: NDArray[np.float64]
    #: Billed time per second of execution (1 for functions, 1/utilisation for containers).
    billing_scale: NDArray[np.float64]
    timeout_ms: NDArray[np.float64]
    cold_median_ms: NDArray[np.float64]
    cold_sigma: NDArray[np.float64]
    #: Index of the idle-time -> cold-start-probability curve (see World.cold_curves).
    cold_curve: NDArray[np.int64]
    power_w: NDArray[np.float64]
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
