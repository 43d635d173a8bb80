"""The world model: every table the simulator and the policies need, as NumPy arrays.

:func:`build_world` is the one place where catalog data becomes arrays; after that the physics
(:mod:`skyroute.world.physics`) are pure functions over those arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.placement import (
    Placement,
    PlacementTable,
    decode,
    dominated_for_small_calls,
)
from skyroute.world.products import PRODUCT_ORDER, products_of
from skyroute.world.products.base import FUNCTION, PLATFORMS, PURCHASES, SPOT, Product
from skyroute.world.providers import PROVIDER_ORDER, get_provider

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

#: Memory sizes of the placement space, MB: Lambda's range up to its 10,240 MB maximum, and
#: container sizes beyond it (Fargate and Cloud Run sell 16 and 32 GB). Products keep the sizes
#: they sell (Azure Consumption has one fixed 1,536 MB instance; Flex sells 512, 2,048 and
#: 4,096 MB; Container Apps stops at 8 GB).
MEMORY_SIZES_MB: tuple[int, ...] = (
    128, 256, 512, 1024, 1536, 2048, 3072, 4096, 8192, 10240, 16384, 32768
)  # fmt: skip

#: Lambda cold-start sources: Shilkov's 2019-2020 study (the same method for every provider)
#: or lambda-perf's 2026 hello-world INIT durations (AWS only, sandbox creation excluded).
LAMBDA_COLD_STARTS = ("shilkov", "lambda-perf")


class Range(NamedTuple):
    """The published (or plausible, when none is published) range of a world parameter."""

    low: float
    high: float
    source: str


#: Every uncertain assumption of the world model, with its range (``skyroute world
#: sensitivity`` moves each across it).
PARAMETER_RANGES: dict[str, Range] = {
    "cpu_bound_fraction": Range(0.3, 0.9, "assumption: share of run time that scales with CPU"),
    "pool_target_utilisation": Range(
        0.5, 0.9, "autoscaling targets of 50-90 % CPU are the common range (ECS, KEDA)"
    ),
    "fargate_keepalive_s": Range(
        60.0, 3600.0, "60 s = Fargate's billing minimum; an hour for a service kept up"
    ),
    "container_apps_cooldown_s": Range(
        300.0, 1800.0, "billing_rules_and_limits.csv: 300 s default cool-down"
    ),
    "cloud_run_idle_s": Range(60.0, 900.0, "Cloud Run keeps idle instances up to 15 min"),
    "fargate_start_s": Range(20.0, 60.0, "container_startup_latency.csv (ap-northeast-1, n=2)"),
    "container_apps_start_s": Range(
        20.0, 42.0, "container_startup_latency.csv: min 20.9 s, max 42.1 s (n=5)"
    ),
    "cloud_run_start_s": Range(2.0, 10.0, "container_startup_latency.csv: 5-7 s boot, ~10 s"),
}


@dataclass(frozen=True)
class WorldConfig:
    """Assumptions of the world model; each default is documented in docs/world-model.md."""

    regions: tuple[str, ...] = CORE_REGIONS
    memory_sizes_mb: tuple[int, ...] = MEMORY_SIZES_MB
    #: CPU share (vCPU) at which trace durations were measured.
    reference_vcpu: float = 0.5
    #: Share of execution time that scales with CPU; the rest (I/O, waiting) does not.
    cpu_bound_fraction: float = 0.6
    #: Busy share of a pool's capacity while it works (the headroom an autoscaler keeps).
    pool_target_utilisation: float = 0.7
    #: Seconds a Fargate task lives after the last call it served ends (billed).
    fargate_keepalive_s: float = 900.0
    #: Seconds a Container Apps replica lives after its last request (billed, active rate).
    container_apps_cooldown_s: float = 300.0
    #: Seconds Cloud Run keeps an idle instance (not billed under request-based billing).
    cloud_run_idle_s: float = 900.0
    #: Median start of a new container, s.
    fargate_start_s: float = 40.0
    container_apps_start_s: float = 40.656
    cloud_run_start_s: float = 6.0
    #: Source of Lambda's cold starts (see ``LAMBDA_COLD_STARTS``).
    lambda_cold_starts: str = "shilkov"
    #: Caller-to-region bandwidth for the request payload, Mbit/s.
    bandwidth_mbps: float = 100.0
    #: Cloud Carbon Footprint's power per GB of memory, W.
    watts_per_gb: float = 0.392
    #: The placement every objective is normalised by (its value is 1.0 per term).
    reference: Placement = Placement("aws", "us-east-1", 512, FUNCTION, "on-demand")

    def __post_init__(self) -> None:
        checks = {
            "reference_vcpu": self.reference_vcpu > 0,
            "cpu_bound_fraction": 0.0 <= self.cpu_bound_fraction <= 1.0,
            "pool_target_utilisation": 0.0 < self.pool_target_utilisation <= 1.0,
            "fargate_keepalive_s": self.fargate_keepalive_s >= 60.0,
            "container_apps_cooldown_s": self.container_apps_cooldown_s >= 0.0,
            "cloud_run_idle_s": self.cloud_run_idle_s >= 0.0,
            "fargate_start_s": self.fargate_start_s > 0,
            "container_apps_start_s": self.container_apps_start_s > 0,
            "cloud_run_start_s": self.cloud_run_start_s > 0,
            "lambda_cold_starts": self.lambda_cold_starts in LAMBDA_COLD_STARTS,
            "bandwidth_mbps": self.bandwidth_mbps > 0,
            "memory_sizes_mb": len(self.memory_sizes_mb) > 0 and min(self.memory_sizes_mb) > 0,
            "regions": len(self.regions) > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"world config {name}={getattr(self, name)!r} is impossible",
                    "see docs/world-model.md for the allowed range"
                    + (
                        " (Fargate bills at least 60 s per task)"
                        if name.startswith("fargate_k")
                        else ""
                    ),
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
    #: Placements no call of at most 2,048 MB can prefer (see ``dominated_for_small_calls``).
    small_call_dominated: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

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


def _curves(catalog: Catalog) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """One measured idle curve per provider (indexed like ``PROVIDER_ORDER``)."""
    minutes, probs = [], []
    for name in PROVIDER_ORDER:
        m, p = get_provider(name).idle_cold_curve(catalog)
        minutes.append(m)
        probs.append(p)
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
    rows: dict[str, list[float]] = {}
    sources: dict[str, str] = {}
    for r_index, rid in enumerate(config.regions):
        provider, region = rid.split(":", 1)
        for product in products_of(provider):
            _placements_of(catalog, config, product, r_index, region, rows, sources)
    table = PlacementTable(**{k: np.asarray(v) for k, v in _typed(rows).items()})
    order = np.lexsort(
        (table.purchase, table.platform, table.memory_mb, table.region, table.provider)
    )
    table = table.take(order)
    carbon = np.stack([hourly_intensity(catalog, rid)[0] for rid in config.regions])
    for rid in config.regions:
        sources[f"carbon {rid}"] = hourly_intensity(catalog, rid)[1]
    minutes, probs = _curves(catalog)
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

    return replace(
        world,
        reference_index=world.find(world.config.reference),
        small_call_dominated=dominated_for_small_calls(world.placements),
    )


_INTS = {"provider", "region", "platform", "purchase", "product", "warmth", "cold_curve"}


def _typed(rows: dict[str, list[float]]) -> dict[str, list[float] | list[int]]:
    return {k: ([int(x) for x in v] if k in _INTS else v) for k, v in rows.items()}


def _placements_of(
    catalog: Catalog,
    config: WorldConfig,
    product: Product,
    r_index: int,
    region: str,
    rows: dict[str, list[float]],
    sources: dict[str, str],
) -> None:
    """Append every placement ``product`` sells in ``region`` to ``rows``."""
    from skyroute.world.providers.spot import spot_hazard_per_hour

    provider = get_provider(product.provider)
    keepalive = product.keepalive_s(config)
    hazard = spot_hazard_per_hour(catalog, product.provider, region)
    for memory in product.memory_sizes(config):
        vcpu = product.vcpu(catalog, memory)
        cold = product.cold_start(catalog, config, memory)
        gb = memory / 1024.0
        for purchase in product.purchases:
            price = product.price(catalog, region, memory, purchase)
            values = {
                "provider": PROVIDER_ORDER.index(product.provider), "region": r_index,
                "memory_mb": memory, "platform": PLATFORMS.index(product.platform),
                "purchase": PURCHASES.index(purchase), "product": PRODUCT_ORDER.index(product.name),
                "vcpu": vcpu, "usd_per_second": price.usd_per_second,
                "usd_per_observed_gb_second": price.usd_per_observed_gb_second,
                "observed_memory_step_mb": product.billing.observed_memory_step_mb,
                "usd_per_request": price.usd_per_request,
                "idle_usd_per_second": price.idle_usd_per_second,
                "billing_step_ms": product.billing.step_ms,
                "billing_min_ms": product.billing.minimum_ms,
                "init_billed_max_ms": product.billing.init_billed_max_ms,
                "busy_scale": product.busy_scale(config), "warmth": int(product.warmth),
                "keepalive_s": keepalive.value, "timeout_ms": product.timeout_s.value * 1000.0,
                "cold_median_ms": cold.median_ms, "cold_sigma": cold.sigma,
                "cold_curve": PROVIDER_ORDER.index(product.provider),
                "power_w": vcpu * provider.watts_per_vcpu + gb * config.watts_per_gb,
                "idle_power_w": vcpu * provider.watts_per_vcpu_min + gb * config.watts_per_gb,
                "pue": provider.pue.value,
                "spot_hazard_per_h": hazard.value if purchase == SPOT else 0.0,
            }  # fmt: skip
            for key, value in values.items():
                rows.setdefault(key, []).append(float(value))
            label = f"{product.name} {region} {purchase}"
            sources.setdefault(f"price {label}", price.source)
            sources.setdefault(f"billing {product.name}", product.billing.source)
            sources.setdefault(f"cold start {product.name}", cold.source)
            sources.setdefault(f"keep-alive {product.name}", keepalive.source)
            sources.setdefault(f"timeout {product.name}", product.timeout_s.source)
            if purchase == SPOT:
                sources.setdefault(f"spot hazard {product.provider}:{region}", hazard.source)
