"""Google Cloud Run functions (formerly Cloud Functions 2nd gen) and Cloud Run services.

As sold (cloud.google.com/run/pricing, request-based billing): vCPU-seconds and GiB-seconds of
the instance while it handles a request, starts or shuts down (not while it idles between
requests), rounded up to 100 ms, plus $0.40 per million requests; Tier 2 regions cost about
40 % more. Cloud Run functions are Cloud Run services with CPU set from memory (0.083 vCPU at
128 MB ... 2 vCPU at 4 GB). Idle instances are kept for up to 15 minutes and then removed; min
instances (billed at the idle rate) are off by default, as SkyRoute models them. No spot.

Each request is billed on its own run time, as if no two requests shared an instance: with
per-instance concurrency above 1, overlapping requests share billed time, so this is an upper
bound for busy functions.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from skyroute.world.products.aws_lambda import shilkov_python
from skyroute.world.products.base import (
    FUNCTION,
    SPOT,
    Billing,
    ColdStart,
    ContainerProduct,
    Price,
    Product,
    Sourced,
    Warmth,
    sizes_between,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

REQUEST_BASED = Billing(
    step_ms=100.0,
    minimum_ms=100.0,
    init_billed_max_ms=float("inf"),
    source=(
        "billing_rules_and_limits.csv: request-based, rounded up to 100 ms, billed while "
        "processing requests and during container start-up"
    ),
)


def price_tier(catalog: Catalog, region: str) -> tuple[int, str]:
    """Cloud Run's price tier of ``region`` (1 or 2) and where it came from."""
    tiers = catalog.gcp_price_tiers
    rows = tiers[tiers["product"].str.startswith("cloud-run (") & (tiers["region"] == region)]
    if len(rows):
        return int(rows["price_tier"].iloc[0]), "gcp_region_price_tiers.csv (Cloud Run locations)"
    return 2, f"fallback: {region} not in gcp_region_price_tiers.csv, Tier 2 assumed"


def request_based_price(catalog: Catalog, region: str, vcpu: float, memory_mb: int) -> Price:
    """Per-second price of ``vcpu`` and ``memory_mb`` under request-based billing."""
    per_vcpu, per_gib, per_request, source = request_based_rates(catalog, region)
    return Price(vcpu * per_vcpu + memory_mb / 1024.0 * per_gib, per_request, source)


@functools.lru_cache(maxsize=64)
def request_based_rates(catalog: Catalog, region: str) -> tuple[float, float, float, str]:
    """(USD per vCPU-s, per GiB-s, per request) of request-based billing in ``region``."""
    tier, tier_source = price_tier(catalog, region)
    table = catalog.cloud_run_prices
    rows = table[table["billing_mode"].str.startswith("request-based (")]
    row = rows[rows["price_tier"] == f"tier{tier}"].iloc[0]
    per_million = rows["usd_per_million_requests"].dropna()
    return (
        float(row["usd_per_vcpu_second"]),
        float(row["usd_per_gib_second"]),
        float(per_million.iloc[0]) / 1e6,
        f"cloud_run_prices.csv: request-based tier {tier} ({tier_source})",
    )


class CloudRunFunctions(Product):
    name = "gcp-cloud-run-functions"
    provider = "gcp"
    display_name = "Google Cloud Run functions"
    platform = FUNCTION
    unsupported: ClassVar[dict[str, str]] = {SPOT: "Cloud Run has no spot pricing"}
    warmth = Warmth.CURVE
    timeout_s = Sourced(3600.0, "Cloud Run functions (HTTP): 60 minutes at most")
    billing = REQUEST_BASED

    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        return sizes_between(config, 128, 32_768)

    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        table = catalog.gcp_memory_ghz
        mb = table["memory_mb"].to_numpy(dtype=np.float64)
        return float(np.interp(memory_mb, mb, table["vcpu_equiv"].to_numpy(dtype=np.float64)))

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        return request_based_price(catalog, region, self.vcpu(catalog, memory_mb), memory_mb)

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        return shilkov_python(catalog, "gcp")


class CloudRunService(ContainerProduct):
    name = "gcp-cloud-run"
    provider = "gcp"
    display_name = "Google Cloud Run (services)"
    max_memory_mb = 32_768
    #: Cloud Run instances stop at 8 vCPU (32 GiB needs 8 vCPU, not the balanced 16).
    max_vcpu = 8.0
    unsupported: ClassVar[dict[str, str]] = {SPOT: "Cloud Run has no spot pricing"}
    warmth = Warmth.WINDOW
    timeout_s = Sourced(3600.0, "Cloud Run request timeout: 60 minutes at most")
    billing = REQUEST_BASED

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        return request_based_price(catalog, region, self.vcpu(catalog, memory_mb), memory_mb)

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        return ColdStart(
            config.cloud_run_start_s * 1000.0,
            0.4,
            "container_startup_latency.csv: container boot 5-7 s of a ~10 s cold request "
            "(c. 2021, low confidence); world parameter cloud_run_start_s",
        )

    def keepalive_s(self, config: WorldConfig) -> Sourced:
        return Sourced(
            config.cloud_run_idle_s,
            "assumption: Cloud Run keeps idle instances up to 15 min; world parameter "
            "cloud_run_idle_s",
        )
