"""What a cloud provider offers, as one abstract class each provider module implements.

Every number a provider returns is looked up in the catalog (passed in, never global) or is a
named, documented assumption carried in a :class:`Sourced` value, so any figure in a report can
be traced back to where it came from.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

FUNCTION = "function"
CONTAINER = "container"
ON_DEMAND = "on-demand"
SPOT = "spot"
PLATFORMS = (FUNCTION, CONTAINER)
PURCHASES = (ON_DEMAND, SPOT)


class Sourced(NamedTuple):
    """A value with the place it came from (a catalog file, or a named assumption)."""

    value: float
    source: str


class Rate(NamedTuple):
    """What running one invocation costs: per second of billed time, and per request."""

    usd_per_second: float
    usd_per_request: float
    source: str


@dataclass(frozen=True)
class ColdStart:
    """Cold-start latency, log-normal: ``median_ms`` and the sigma of ln(ms)."""

    median_ms: float
    sigma: float
    source: str


#: Fargate-style task sizes: the smallest vCPU share that can carry a given memory size.
_CONTAINER_SIZES = ((512, 0.25), (1024, 0.5), (2048, 1.0), (4096, 2.0))

#: z-scores used to turn published percentiles into a log-normal sigma.
Z_P90 = 1.2816
Z_P975 = 1.96


def container_vcpu(memory_mb: int) -> float:
    """vCPU of the smallest Fargate-style task with at least ``memory_mb`` (min 0.25 vCPU)."""
    for limit, vcpu in _CONTAINER_SIZES:
        if memory_mb <= limit:
            return vcpu
    return memory_mb / 2048.0


def lognormal_sigma(median: float, upper: float, z: float) -> float:
    """Sigma of ln(x) from a median and an upper percentile at standard score ``z``."""
    if median <= 0 or upper <= median:
        return 0.25
    return math.log(upper / median) / z


class Provider(abc.ABC):
    """A cloud provider's serverless and container offers in the world model.

    Subclasses declare in ``unsupported`` what they do not offer and why; the placement space
    leaves those combinations out instead of inventing prices for them.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    #: (platform, purchase) combinations this provider does not offer, with the reason.
    unsupported: ClassVar[dict[tuple[str, str], str]] = {}
    #: Largest function memory size, MB.
    function_max_memory_mb: ClassVar[int]
    #: Maximum function run time before the platform kills it, seconds.
    function_timeout_s: ClassVar[float]
    #: Billing granularity and minimum billed duration of a function invocation, ms.
    function_billing_ms: ClassVar[tuple[float, float]] = (1.0, 1.0)
    #: Data-centre power usage effectiveness (Cloud Carbon Footprint's figures).
    pue: ClassVar[Sourced]
    #: Container cold start (scale from zero): no measurements ship with SkyRoute.
    container_cold_start: ClassVar[ColdStart]

    def supports(self, platform: str, purchase: str, memory_mb: int) -> str | None:
        """``None`` if the combination exists, else the reason it does not."""
        reason = self.unsupported.get((platform, purchase))
        if reason:
            return reason
        if platform == FUNCTION and memory_mb > self.function_max_memory_mb:
            return f"{self.display_name} functions allow at most {self.function_max_memory_mb} MB"
        return None

    @abc.abstractmethod
    def function_rate(self, catalog: Catalog, region: str, memory_mb: int) -> Rate:
        """Price of a function with ``memory_mb`` in ``region``."""

    @abc.abstractmethod
    def function_vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        """CPU share (in vCPUs) a function with ``memory_mb`` gets."""

    @abc.abstractmethod
    def function_cold_start(self, catalog: Catalog, memory_mb: int) -> ColdStart:
        """Cold-start latency distribution of a function with ``memory_mb``."""

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

    def container_keepalive_min(self) -> Sourced:
        """Idle minutes before a container service scales an idle task to zero."""
        return Sourced(15.0, "assumption: 15 min scale-in idle window (no shipped data)")
