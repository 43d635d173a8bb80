"""What one cloud product is, as sold: its billing rule, limits, sizes and start-up behaviour.

A *product* is what a user buys to run a call: AWS Lambda, AWS Fargate, Azure Functions
(Consumption or Flex Consumption), Azure Container Apps, Google Cloud Run functions or a Cloud
Run service. Each lives in its own module and implements :class:`Product`; every number it
returns is read from the catalog (passed in, never global) or is a named assumption carried in
a :class:`Sourced` value, so any figure in a report can be traced to where it came from.

Three ways of keeping instances warm exist, and they decide both cold starts and what idle time
costs (:class:`Warmth`):

* ``CURVE``: the provider keeps an instance for a while and evicts it when it likes; a call
  finds it cold with the probability a measured idle-time curve gives (Lambda, Azure Functions,
  Cloud Run functions). Idle time is free.
* ``WINDOW``: an instance stays up ``keepalive_s`` after its last call ends, unbilled while it
  idles (Cloud Run services with request-based billing).
* ``POOL``: a task or replica lives ``keepalive_s`` after its last call ends and is billed for
  the whole time it lives (Fargate tasks, Container Apps replicas scaling to zero).
"""

from __future__ import annotations

import abc
import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NamedTuple

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

FUNCTION = "function"
CONTAINER = "container"
ON_DEMAND = "on-demand"
SPOT = "spot"
PLATFORMS = (FUNCTION, CONTAINER)
PURCHASES = (ON_DEMAND, SPOT)

#: z-scores used to turn published percentiles into a log-normal sigma.
Z_P90 = 1.2816
Z_P975 = 1.96


class Sourced(NamedTuple):
    """A value with the place it came from (a catalog file, or a named assumption)."""

    value: float
    source: str


class Warmth(enum.IntEnum):
    """How a product keeps instances warm (see the module docstring)."""

    CURVE = 0
    WINDOW = 1
    POOL = 2


class Price(NamedTuple):
    """What running on one placement costs.

    ``usd_per_second`` is charged per billed second of the configured size (vCPU and memory);
    ``usd_per_observed_gb_second`` per billed second and GB of the memory a call *used* (Azure
    Consumption bills observed memory); ``idle_usd_per_second`` per second a pool task lives
    without work.
    """

    usd_per_second: float
    usd_per_request: float
    source: str
    usd_per_observed_gb_second: float = 0.0
    idle_usd_per_second: float = 0.0


@dataclass(frozen=True)
class ColdStart:
    """Cold-start latency, log-normal: ``median_ms`` and the sigma of ln(ms)."""

    median_ms: float
    sigma: float
    source: str


@dataclass(frozen=True)
class Billing:
    """How billed time is counted for one call."""

    #: Billed time is the execution rounded up to this step, ms.
    step_ms: float
    #: ... and at least this, ms.
    minimum_ms: float
    #: Cold-start (INIT / container start) time billed, at most this many ms (0 = not billed).
    init_billed_max_ms: float = 0.0
    #: Observed memory is rounded up to this step for billing, MB (0 = configured size billed).
    observed_memory_step_mb: float = 0.0
    source: str = ""


def lognormal_sigma(median: float, upper: float, z: float) -> float:
    """Sigma of ln(x) from a median and an upper percentile at standard score ``z``."""
    if median <= 0 or upper <= median:
        return 0.25
    return math.log(upper / median) / z


#: vCPU:memory of the container sizes sold by Fargate, Container Apps and Cloud Run: the
#: smallest vCPU that can carry a memory size (Fargate: 0.25 vCPU up to 2 GB, 0.5 up to 4 GB...;
#: we take the balanced 1 vCPU : 2 GB sizes, as Container Apps sells them).
_CONTAINER_SIZES = ((512, 0.25), (1024, 0.5), (2048, 1.0), (4096, 2.0))
#: The smallest memory a container product sells, MB.
CONTAINER_MIN_MEMORY_MB = 512


def container_vcpu(memory_mb: float) -> float:
    """vCPU of the balanced container size with ``memory_mb`` (1 vCPU per 2 GB, min 0.25)."""
    for limit, vcpu in _CONTAINER_SIZES:
        if memory_mb <= limit:
            return vcpu
    return memory_mb / 2048.0


class Product(abc.ABC):
    """One product of one provider, as the provider sells it.

    A product declares its platform, the purchase options it sells, the memory sizes it offers
    for a world config, and for a region and size: the price, the vCPU share, the billing rule,
    the cold start and how instances are kept warm. ``unsupported`` says what it does not sell
    and why (a placement that does not exist is left out of the space, never priced by guess).
    """

    name: ClassVar[str]
    provider: ClassVar[str]
    display_name: ClassVar[str]
    platform: ClassVar[str]
    purchases: ClassVar[tuple[str, ...]] = (ON_DEMAND,)
    #: Purchase options the product does not sell, with the reason.
    unsupported: ClassVar[dict[str, str]] = {}
    warmth: ClassVar[Warmth]
    #: Longest run time of one call before the platform stops it, seconds (inf = no limit).
    timeout_s: ClassVar[Sourced]
    billing: ClassVar[Billing]

    @abc.abstractmethod
    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        """Memory sizes (MB) offered in a world with ``config``."""

    @abc.abstractmethod
    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        """vCPU share an instance with ``memory_mb`` gets."""

    @abc.abstractmethod
    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        """Price of ``memory_mb`` in ``region`` bought as ``purchase``."""

    @abc.abstractmethod
    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        """Cold-start latency distribution of an instance with ``memory_mb``."""

    def keepalive_s(self, config: WorldConfig) -> Sourced:
        """Seconds an idle instance lives after its last call (WINDOW and POOL products)."""
        return Sourced(0.0, "not used: the provider's measured idle curve decides")

    def busy_scale(self, config: WorldConfig) -> float:
        """Billed seconds per second of work (above 1 where a pool keeps headroom)."""
        return 1.0


def sizes_between(config: WorldConfig, low: float, high: float) -> tuple[int, ...]:
    """The world's memory sizes in ``[low, high]`` MB."""
    return tuple(m for m in config.memory_sizes_mb if low <= m <= high)


class ContainerProduct(Product):
    """A container product: balanced sizes from 512 MB to ``max_memory_mb`` (1 vCPU per 2 GB).

    A billed pool (``Warmth.POOL``) keeps the autoscaler's headroom, so its busy time is billed
    at 1 / the target utilisation.
    """

    platform = CONTAINER
    #: The largest size the product sells, MB.
    max_memory_mb: ClassVar[int]
    #: The most vCPU one instance gets (None: the balanced size's own).
    max_vcpu: ClassVar[float | None] = None

    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        return sizes_between(config, CONTAINER_MIN_MEMORY_MB, self.max_memory_mb)

    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        vcpu = container_vcpu(memory_mb)
        return vcpu if self.max_vcpu is None else min(vcpu, self.max_vcpu)

    def busy_scale(self, config: WorldConfig) -> float:
        return 1.0 / config.pool_target_utilisation if self.warmth == Warmth.POOL else 1.0
