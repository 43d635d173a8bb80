"""Azure Container Apps, Consumption plan, scaling to zero.

As sold (MicrosoftDocs container-apps/billing.md): per second of allocated vCPU and GiB while a
replica runs, $0.40 per million HTTP requests; scaled to zero costs nothing. The lower idle rate
applies only to replicas kept by a minimum replica count above zero, so a replica scaling to
zero pays the active rate for its whole life, including the cool-down (300 s by default) after
its last request. Sizes pair 0.25 vCPU with 0.5 GiB up to 4 vCPU / 8 GiB. No spot offer (ACI
Spot is a preview that cannot take inbound requests).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

from skyroute.world.products.base import (
    SPOT,
    Billing,
    ColdStart,
    ContainerProduct,
    Price,
    Sourced,
    Warmth,
    container_vcpu,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

#: The largest Consumption-profile replica: 4 vCPU / 8 GiB.
MAX_MEMORY_MB = 8192


class ContainerApps(ContainerProduct):
    name = "azure-container-apps"
    provider = "azure"
    display_name = "Azure Container Apps (Consumption)"
    max_memory_mb = MAX_MEMORY_MB
    unsupported: ClassVar[dict[str, str]] = {
        SPOT: "no spot for Container Apps; ACI Spot is a preview without inbound requests"
    }
    warmth = Warmth.POOL
    timeout_s = Sourced(float("inf"), "no run-time limit modelled for Container Apps")
    billing = Billing(
        step_ms=1.0,
        minimum_ms=0.0,
        init_billed_max_ms=float("inf"),
        source="billing_rules_and_limits.csv: per second while a replica runs (start included)",
    )

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        per_vcpu, per_gib, per_request, source = active_rates(catalog, region)
        per_second = container_vcpu(memory_mb) * per_vcpu + memory_mb / 1024.0 * per_gib
        return Price(per_second, per_request, source, idle_usd_per_second=per_second)

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        return ColdStart(
            config.container_apps_start_s * 1000.0,
            0.3,
            "container_startup_latency.csv: first request after scale-to-zero, median 40.7 s "
            "(koreacentral, 2026, n=5); world parameter container_apps_start_s",
        )

    def keepalive_s(self, config: WorldConfig) -> Sourced:
        return Sourced(
            config.container_apps_cooldown_s,
            "billing_rules_and_limits.csv: 300 s cool-down before scale to zero (measured ~5 min); "
            "world parameter container_apps_cooldown_s",
        )


@functools.lru_cache(maxsize=64)
def active_rates(catalog: Catalog, region: str) -> tuple[float, float, float, str]:
    """(USD per vCPU-s, per GiB-s, per request) at the active rate in ``region``, and source."""
    table = catalog.container_apps_prices
    active = table[table["replica_state"] == "active"]
    here = active[active["region"] == region]
    row = (here if len(here) else active[active["region"] == "eastus"]).iloc[0]
    where = region if len(here) else "eastus (identical in every region queried)"
    requests = active["usd_per_million_requests"].dropna()
    return (
        float(row["usd_per_vcpu_second"]),
        float(row["usd_per_gib_second"]),
        float(requests.iloc[0]) / 1e6,
        f"azure_container_apps_prices.csv: active rate, {where}",
    )
