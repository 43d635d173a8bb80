"""Microsoft Azure: Functions on the Consumption plan, and container instances."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from skyroute.world.providers.base import (
    Z_P975,
    ColdStart,
    Provider,
    Rate,
    Sourced,
    lognormal_sigma,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

#: Consumption-plan instances get roughly one vCPU at the 1.5 GB cap; Azure does not publish
#: the CPU share, so it is assumed proportional to memory like Lambda's.
AZURE_MB_PER_VCPU = 1536.0


class Azure(Provider):
    name = "azure"
    display_name = "Azure Functions / Container Instances"
    unsupported: ClassVar[dict[tuple[str, str], str]] = {
        ("function", "spot"): "Azure Functions have no spot pricing",
    }
    function_max_memory_mb = 1536
    function_timeout_s = 600.0
    # Consumption bills in 1 ms steps with a 100 ms minimum.
    function_billing_ms = (1.0, 100.0)
    pue = Sourced(1.185, "Cloud Carbon Footprint Azure PUE")
    container_cold_start = ColdStart(15_000.0, 0.3, "assumption: container group start ~15 s")

    def function_rate(self, catalog: Catalog, region: str, memory_mb: int) -> Rate:
        prices = catalog.serverless_prices
        plan = prices[
            (prices["provider"] == "azure") & (prices["plan"].str.startswith("consumption"))
        ]
        gb_s = float(plan[plan["unit"] == "usd_per_gb_second"]["price_usd"].iloc[0])
        request = float(plan[plan["unit"] == "usd_per_execution"]["price_usd"].iloc[0])
        # Billing rounds memory up to the next 128 MB.
        billed_mb = -(-memory_mb // 128) * 128
        return Rate(
            gb_s * billed_mb / 1024.0,
            request,
            "serverless_prices.csv: azure consumption (East US price used in every region)",
        )

    def function_vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        return memory_mb / AZURE_MB_PER_VCPU

    def function_cold_start(self, catalog: Catalog, memory_mb: int) -> ColdStart:
        table = catalog.coldstart_shilkov
        row = table[
            (table["provider"] == "azure")
            & (table["chart"] == "bylanguagelinux")
            & (table["category"] == "Python")
        ].iloc[0]
        median, upper = float(row["median_s"]) * 1000.0, float(row["p97_5_s"]) * 1000.0
        return ColdStart(
            median,
            lognormal_sigma(median, upper, Z_P975),
            "coldstart_shilkov_distributions.csv: azure bylanguagelinux Python (2019-2020)",
        )
