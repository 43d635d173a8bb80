"""The world model: every table the simulator and the policies need, as NumPy arrays.

:func:`build_world` is the one place where catalog data becomes arrays; after that the physics
(:mod:`skyroute.world.physics`) are pure functions over those arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.placement import Placement, PlacementTable, decode
from skyroute.world.providers import PROVIDER_ORDER, get_provider
from skyroute.world.providers.base import FUNCTION, PLATFORMS, PURCHASES, Provider, container_vcpu
from skyroute.world.providers.containers import container_rate

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

#: Eight well-known regions per provider, spread over the same metros, so that every caller has
#: a near region on each cloud. ``WorldConfig(regions=...)`` replaces them.
CORE_REGIONS: tuple[str, ...] = (
    "aws:us-east-1", "aws:us-west-2", "aws:eu-west-1", "aws:eu-central-1",
    "aws:ap-northeast-1", "aws:ap-southeast-1", "aws:sa-east-1", "aws:ap-south-1",
    "azure:eastus", "azure:westus2", "azure:northeurope", "azure:germanywestcentral",
    "azure:japaneast", "azure:southeastasia", "azure:brazilsouth", "azure:centralindia",
    "gcp:us-east4", "gcp:us-west1", "gcp:europe-west1", "gcp:europe-west3",
    "gcp:asia-northeast1", "gcp:asia-southeast1", "gcp:southamerica-east1", "gcp:asia-south1",
)  # fmt: skip

#: The memory sizes of the tactical action space, MB.
MEMORY_SIZES_MB: tuple[int, ...] = (128, 256, 512, 1024, 1536, 2048)


@dataclass(frozen=True)
class WorldConfig:
    """Assumptions of the world model; each default is documented in docs/world-model.md."""

    regions: tuple[str, ...] = CORE_REGIONS
    memory_sizes_mb: tuple[int, ...] = MEMORY_SIZES_MB
    #: CPU share (vCPU) at which trace durations were measured.
    reference_vcpu: float = 0.5
    #: Share of execution time that scales with CPU; the rest (I/O, waiting) does not.
    cpu_bound_fraction: float = 0.6
    #: Busy share of a container task's billed time (idle capacity is paid for too).
    container_utilisation: float = 0.5
    #: Caller-to-region bandwidth for the request payload, Mbit/s.
    bandwidth_mbps: float = 100.0
    #: Cloud Carbon Footprint's average compute power per vCPU at 50 % load, and per GB of memory.
    watts_per_vcpu: float = 2.12
    watts_per_gb: float = 0.392
    #: The placement every objective is normalised by (its value is 1.0 per term).
    reference: Placement = Placement("aws", "us-east-1", 512, FUNCTION, "on-demand")

    def __post_init__(self) -> None:
        checks = {
            "reference_vcpu": self.reference_vcpu > 0,
            "cpu_bound_fraction": 0.0 <= self.cpu_bound_fraction <= 1.0,
            "container_utilisation": 0.0 < self.container_utilisation <= 1.0,
            "bandwidth_mbps": self.bandwidth_mbps > 0,
            "memory_sizes_mb": len(self.memory_sizes_mb) > 0 and min(self.memory_sizes_mb) > 0,
            "regions": len(self.regions) > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"world config {name}={getattr(self, name)!r} is impossible",
                    "see docs/world-model.md for the allowed range",
                )


@dataclass(frozen=True)
class World:
    """Arrays of the world model. Build it with :func:`build_world`."""

    config: WorldConfig
    providers: tuple[str, ...]
    region_ids: tuple[str, ...]
    origin_ids: tuple[str, ...]
    placements: PlacementTable
    #: RTT caller origin -> region, ms, shape [origins, regions].
    rtt_ms: NDArray[np.float64]
    #: Grid carbon intensity, gCO2e/kWh, shape [regions, 8760 hours of the year].
    carbon: NDArray[np.float64]
    #: Idle-time curves: minutes and probability of a cold start, one row per curve id.
    cold_curve_minutes: tuple[NDArray[np.float64], ...]
    cold_curve_prob: tuple[NDArray[np.float64], ...]
    reference_index: int
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def n_placements(self) -> int:
        return len(self.placements)

    def describe(self, index: int) -> Placement:
        return decode(self.placements, index, self.providers, self.region_ids)

    def origin_index(self, origin_ids: tuple[str, ...] | list[str]) -> NDArray[np.int64]:
        lookup = {o: i for i, o in enumerate(self.origin_ids)}
        return np.array([lookup[o] for o in origin_ids], dtype=np.int64)

    def find(self, placement: Placement) -> int:
        """Index of ``placement``; a ConfigError if it is not in this world."""
        for i in range(self.n_placements):
            if self.describe(i) == placement:
                return i
        raise ConfigError(
            f"placement {placement.label()} is not in this world",
            "add its region and memory size to the world config",
        )


def _curves(catalog: Catalog, providers: list[Provider]) -> tuple[list[NDArray[np.float64]], ...]:
    """One idle curve per (provider, platform): measured for functions, a step for containers."""
    minutes, probs = [], []
    for provider in providers:
        m, p = provider.idle_cold_curve(catalog)
        minutes.append(m)
        probs.append(p)
        keep = provider.container_keepalive_min().value
        minutes.append(np.array([0.0, keep, keep + 1e-6]))
        probs.append(np.array([0.0, 0.0, 1.0]))
    return minutes, probs


def build_world(
    catalog: Catalog,
    config: WorldConfig | None = None,
    origins: tuple[str, ...] | list[str] = ("aws:us-east-1",),
) -> World:
    """Turn the catalog into arrays for ``config``'s regions and the callers in ``origins``."""
    from skyroute.world.catalog.carbon import hourly_intensity
    from skyroute.world.catalog.latency import rtt_matrix
    from skyroute.world.catalog.loader import parse_region_id

    config = config or WorldConfig()
    for rid in (*config.regions, *origins):
        parse_region_id(catalog, rid)
    providers = [get_provider(p) for p in PROVIDER_ORDER]
    rows: dict[str, list[float]] = {}
    sources: dict[str, str] = {}
    for p_index, provider in enumerate(providers):
        for r_index, rid in enumerate(config.regions):
            if not rid.startswith(provider.name + ":"):
                continue
            _placements_in_region(
                catalog, config, provider, p_index, r_index, rid.split(":", 1)[1], rows, sources
            )
    table = PlacementTable(**{k: np.asarray(v) for k, v in _typed(rows).items()})
    carbon = np.stack([hourly_intensity(catalog, rid)[0] for rid in config.regions])
    for rid in config.regions:
        sources[f"carbon {rid}"] = hourly_intensity(catalog, rid)[1]
    minutes, probs = _curves(catalog, providers)
    world = World(
        config=config,
        providers=PROVIDER_ORDER,
        region_ids=tuple(config.regions),
        origin_ids=tuple(origins),
        placements=table,
        rtt_ms=rtt_matrix(catalog, list(origins), list(config.regions)),
        carbon=carbon.astype(np.float64),
        cold_curve_minutes=tuple(minutes),
        cold_curve_prob=tuple(probs),
        reference_index=-1,
        sources=sources,
    )
    return _with_reference(world)


def _with_reference(world: World) -> World:
    from dataclasses import replace

    return replace(world, reference_index=world.find(world.config.reference))


def _typed(rows: dict[str, list[float]]) -> dict[str, list[float] | list[int]]:
    ints = {"provider", "region", "platform", "purchase", "cold_curve"}
    return {k: ([int(x) for x in v] if k in ints else v) for k, v in rows.items()}


def _placements_in_region(
    catalog: Catalog,
    config: WorldConfig,
    provider: Provider,
    p_index: int,
    r_index: int,
    region: str,
    rows: dict[str, list[float]],
    sources: dict[str, str],
) -> None:
    """Append every supported placement of ``provider`` in ``region`` to ``rows``."""
    from skyroute.world.providers.spot import spot_hazard_per_hour

    hazard = spot_hazard_per_hour(catalog, provider.name, region)
    for memory in config.memory_sizes_mb:
        for platform_index, platform in enumerate(PLATFORMS):
            for purchase_index, purchase in enumerate(PURCHASES):
                if provider.supports(platform, purchase, memory) is not None:
                    continue
                if platform == FUNCTION:
                    rate = provider.function_rate(catalog, region, memory)
                    vcpu = provider.function_vcpu(catalog, memory)
                    cold = provider.function_cold_start(catalog, memory)
                    step, minimum = provider.function_billing_ms
                    scale, timeout = 1.0, provider.function_timeout_s * 1000.0
                else:
                    rate = container_rate(catalog, provider.name, region, purchase, memory)
                    vcpu = container_vcpu(memory)
                    cold = provider.container_cold_start
                    step, minimum = 1e-3, 0.0
                    scale, timeout = 1.0 / config.container_utilisation, float("inf")
                values = {
                    "provider": p_index, "region": r_index, "memory_mb": memory,
                    "platform": platform_index, "purchase": purchase_index, "vcpu": vcpu,
                    "usd_per_second": rate.usd_per_second,
                    "usd_per_request": rate.usd_per_request,
                    "billing_step_ms": step, "billing_min_ms": minimum, "billing_scale": scale,
                    "timeout_ms": timeout, "cold_median_ms": cold.median_ms,
                    "cold_sigma": cold.sigma, "cold_curve": 2 * p_index + platform_index,
                    "power_w": vcpu * config.watts_per_vcpu + memory / 1024.0 * config.watts_per_gb,
                    "pue": provider.pue.value,
                    "spot_hazard_per_h": hazard.value if purchase == "spot" else 0.0,
                }  # fmt: skip
                for key, value in values.items():
                    rows.setdefault(key, []).append(float(value))
                label = f"{provider.name}:{region}/{platform}/{purchase}"
                sources.setdefault(f"price {label}", rate.source)
                sources.setdefault(f"cold start {provider.name}/{platform}", cold.source)
                if purchase == "spot":
                    sources.setdefault(f"spot hazard {provider.name}:{region}", hazard.source)
