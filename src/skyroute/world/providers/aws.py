"""Amazon Web Services: Lambda functions and Fargate containers (on-demand and Fargate Spot)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from skyroute.world.providers.base import (
    Z_P90,
    ColdStart,
    Provider,
    Rate,
    Sourced,
    lognormal_sigma,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog

#: Lambda gives one full vCPU at 1,769 MB and scales CPU linearly with memory (AWS docs).
LAMBDA_MB_PER_VCPU = 1769.0
#: The runtime whose measured cold starts stand for "a typical function" (lambda-perf data).
COLD_START_RUNTIME = "python312"


class AWS(Provider):
    name = "aws"
    display_name = "AWS Lambda / Fargate"
    unsupported: ClassVar[dict[tuple[str, str], str]] = {
        ("function", "spot"): "Lambda has no spot pricing",
    }
    function_max_memory_mb = 10240
    function_timeout_s = 900.0
    function_billing_ms = (1.0, 1.0)
    pue = Sourced(1.135, "Cloud Carbon Footprint AWS PUE")
    container_cold_start = ColdStart(35_000.0, 0.3, "assumption: Fargate task launch ~35 s")

    def function_rate(self, catalog: Catalog, region: str, memory_mb: int) -> Rate:
        prices = catalog.serverless_prices
        aws = prices[(prices["provider"] == "aws") & (prices["arch"].isin(["x86_64", "any"]))]
        per_ms = aws[(aws["unit"] == "usd_per_ms_at_128mb") & (aws["region"] == region)]
        if len(per_ms):
            gb_s = float(per_ms["price_usd"].iloc[0]) * 8000.0
            source = f"serverless_prices.csv: {region} exception (per ms at 128 MB x 8000)"
        else:
            row = aws[(aws["unit"] == "usd_per_gb_second") & (aws["region"] == "default")]
            gb_s = float(row["price_usd"].iloc[0])
            source = "serverless_prices.csv: aws default usd_per_gb_second"
        request = aws[aws["unit"] == "usd_per_request"]
        return Rate(gb_s * memory_mb / 1024.0, float(request["price_usd"].iloc[0]), source)

    def function_vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        return memory_mb / LAMBDA_MB_PER_VCPU

    def function_cold_start(self, catalog: Catalog, memory_mb: int) -> ColdStart:
        stats = catalog.coldstart_aws
        rows = stats[
            (stats["runtime"] == COLD_START_RUNTIME)
            & (stats["package_type"] == "zip")
            & (stats["arch"] == "x86_64")
        ]
        # Measured sizes are 128-1024 MB; larger sizes take the closest measured one.
        measured = rows["memory_mb"].to_numpy()
        closest = measured[abs(measured - memory_mb).argmin()]
        row = rows[rows["memory_mb"] == closest].iloc[0]
        median, p90 = float(row["init_p50_ms"]), float(row["init_p90_ms"])
        return ColdStart(
            median,
            lognormal_sigma(median, p90, Z_P90),
            f"aws_lambda_coldstart_stats_last90d.csv: {COLD_START_RUNTIME} zip x86_64 {closest} MB",
        )
