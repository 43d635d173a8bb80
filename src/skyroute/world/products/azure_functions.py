"""Azure Functions: the Consumption plan (Linux, retiring) and its successor, Flex Consumption.

Consumption (Y1), as sold: no memory setting; every instance has 1.5 GB and about one core.
Billing takes the memory a call *observed*, rounded up to 128 MB (minimum 128 MB), times its
run time (minimum 100 ms), at $0.000016 per GB-s, plus $0.20 per million executions. Linux
Consumption retires on 30 September 2028.

Flex Consumption, as sold: instance memory of 512, 2,048 (default) or 4,096 MB with 0.25, 1 or
2 cores; on-demand execution billed on the *instance* memory at $0.000026 per GB-s with a
1,000 ms minimum then 100 ms rounding, plus $0.40 per million executions. Always-ready
instances exist but their USD rates were not found: they are left out (``unsupported``).

Only East US prices are published in the shipped data; they are used in every region, labelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from skyroute.world.products.aws_lambda import shilkov_python
from skyroute.world.products.base import (
    FUNCTION,
    SPOT,
    Billing,
    ColdStart,
    Price,
    Product,
    Sourced,
    Warmth,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

#: Memory of a Consumption instance (the size a placement names), MB.
CONSUMPTION_INSTANCE_MB = 1536
#: About one core per Consumption instance (Microsoft: "1.5 GB memory and one CPU").
CONSUMPTION_VCPU = 1.0


class AzureConsumption(Product):
    name = "azure-functions-consumption"
    provider = "azure"
    display_name = "Azure Functions (Consumption)"
    platform = FUNCTION
    unsupported: ClassVar[dict[str, str]] = {SPOT: "Azure Functions have no spot pricing"}
    warmth = Warmth.CURVE
    timeout_s = Sourced(600.0, "Azure Functions Consumption: 10 minutes at most")
    billing = Billing(
        step_ms=1.0,
        minimum_ms=100.0,
        observed_memory_step_mb=128.0,
        source="billing_rules_and_limits.csv: observed memory rounded up to 128 MB; 100 ms minimum",
    )

    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        return (CONSUMPTION_INSTANCE_MB,)

    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        return CONSUMPTION_VCPU

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        prices = catalog.serverless_prices
        plan = prices[
            (prices["provider"] == "azure") & prices["plan"].str.startswith("consumption")
        ]
        gb_s = float(plan[plan["unit"] == "usd_per_gb_second"]["price_usd"].iloc[0])
        request = float(plan[plan["unit"] == "usd_per_execution"]["price_usd"].iloc[0])
        return Price(
            0.0,
            request,
            "serverless_prices.csv: azure consumption, observed GB-s (East US price everywhere)",
            usd_per_observed_gb_second=gb_s,
        )

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        return shilkov_python(catalog, "azure")


class AzureFlex(Product):
    name = "azure-functions-flex"
    provider = "azure"
    display_name = "Azure Functions (Flex Consumption)"
    platform = FUNCTION
    unsupported: ClassVar[dict[str, str]] = {
        SPOT: "Azure Functions have no spot pricing",
        "always-ready": "always-ready USD rates are not published in the shipped data",
    }
    warmth = Warmth.CURVE
    timeout_s = Sourced(float("inf"), "Flex Consumption: no maximum run time (default 30 min)")
    billing = Billing(
        step_ms=100.0,
        minimum_ms=1000.0,
        source="billing_rules_and_limits.csv: 1,000 ms minimum, then 100 ms rounding",
    )

    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        return (512, 2048, 4096)

    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        sizes = catalog.flex_sizes
        row = sizes[sizes["instance_memory_mb"] == memory_mb]
        return float(row["cpu_cores"].iloc[0])

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        flex = catalog.flex_prices
        gb_s = float(flex["usd_per_gb_second"].dropna().iloc[0])
        per_million = float(flex["usd_per_million_executions"].dropna().iloc[0])
        return Price(
            gb_s * memory_mb / 1024.0,
            per_million / 1e6,
            "azure_functions_flex_prices.csv: on-demand instance GB-s (East US price everywhere)",
        )

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        measured = shilkov_python(catalog, "azure")
        return ColdStart(
            measured.median_ms,
            measured.sigma,
            f"{measured.source}; Consumption's, no Flex measurement published",
        )
