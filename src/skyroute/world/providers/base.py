"""What a cloud provider contributes beyond its products: data-centre figures and idle curves.

Prices, billing rules and start-up behaviour belong to products (:mod:`skyroute.world.products`);
a provider holds what is common to all its products: power per vCPU (Cloud Carbon Footprint's
coefficients), PUE, and the measured idle-time -> cold-start curve of its functions.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from skyroute.world.products.base import (  # re-exported: the placement vocabulary
    CONTAINER,
    FUNCTION,
    ON_DEMAND,
    PLATFORMS,
    PURCHASES,
    SPOT,
    Sourced,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

__all__ = [
    "CONTAINER",
    "FUNCTION",
    "ON_DEMAND",
    "PLATFORMS",
    "PURCHASES",
    "SPOT",
    "Provider",
    "Sourced",
]


class Provider(abc.ABC):
    """A cloud provider in the world model (one module each)."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    #: Data-centre power usage effectiveness (Cloud Carbon Footprint's figures).
    pue: ClassVar[Sourced]
    #: Cloud Carbon Footprint's minimum and maximum watts per vCPU for the provider's fleet.
    watts_per_vcpu_min: ClassVar[float]
    watts_per_vcpu_max: ClassVar[float]

    @property
    def watts_per_vcpu(self) -> float:
        """Average power per vCPU at 50 % load (CCF's midpoint of min and max)."""
        return 0.5 * (self.watts_per_vcpu_min + self.watts_per_vcpu_max)

    def idle_cold_curve(self, catalog: Catalog) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(idle minutes, probability that a request after that idle time starts cold).

        From the measured curves in coldstart_shilkov_idle_interval.csv; made non-decreasing
        (a running maximum) so that a longer idle time is never *less* likely to be cold.
        """
        table = catalog.coldstart_idle
        rows = table[table["provider"] == self.name].sort_values("idle_minutes")
        minutes = rows["idle_minutes"].to_numpy(dtype=np.float64)
        prob = np.maximum.accumulate(rows["prob_cold_start"].to_numpy(dtype=np.float64))
        return minutes, np.clip(prob, 0.0, 1.0)
