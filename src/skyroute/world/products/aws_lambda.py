"""AWS Lambda: GB-seconds of the configured memory plus a fee per request.

As sold (aws.amazon.com/lambda/pricing, docs): 128-10,240 MB in 1 MB steps, CPU in proportion
to memory (one full vCPU at 1,769 MB), billed per 1 ms of run time, $0.20 per million
requests, regional GB-s exceptions. Since 1 August 2025 the INIT phase of on-demand ZIP
functions is billed like the invocation, up to its 10 s limit. No spot offer.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

from skyroute.world.products.base import (
    FUNCTION,
    SPOT,
    Z_P90,
    Z_P975,
    Billing,
    ColdStart,
    Price,
    Product,
    Sourced,
    Warmth,
    lognormal_sigma,
    sizes_between,
)

if TYPE_CHECKING:
    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

#: Lambda gives one full vCPU at 1,769 MB and scales CPU linearly with memory (AWS docs).
LAMBDA_MB_PER_VCPU = 1769.0
#: The runtime whose lambda-perf cold starts stand for "a typical function".
LAMBDA_PERF_RUNTIME = "python312"
#: How Shilkov's study names each provider.
SHILKOV_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


class AWSLambda(Product):
    name = "aws-lambda"
    provider = "aws"
    display_name = "AWS Lambda"
    platform = FUNCTION
    unsupported: ClassVar[dict[str, str]] = {SPOT: "Lambda has no spot pricing"}
    warmth = Warmth.CURVE
    timeout_s = Sourced(900.0, "AWS Lambda quotas: 15 minutes")
    billing = Billing(
        step_ms=1.0,
        minimum_ms=1.0,
        init_billed_max_ms=10_000.0,
        source="billing_rules_and_limits.csv: INIT billed since 2025-08-01, INIT at most 10 s",
    )

    def memory_sizes(self, config: WorldConfig) -> tuple[int, ...]:
        return sizes_between(config, 128, 10_240)

    def vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        return memory_mb / LAMBDA_MB_PER_VCPU

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        gb_s, request, source = lambda_rates(catalog, region)
        return Price(gb_s * memory_mb / 1024.0, request, source)

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        if config.lambda_cold_starts == "lambda-perf":
            return _lambda_perf(catalog, memory_mb)
        return shilkov_python(catalog, "aws")


@functools.lru_cache(maxsize=64)
def lambda_rates(catalog: Catalog, region: str) -> tuple[float, float, str]:
    """(USD per GB-s, per request) of x86 Lambda in ``region``, and the source."""
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
    request = float(aws[aws["unit"] == "usd_per_request"]["price_usd"].iloc[0])
    return gb_s, request, source


@functools.lru_cache(maxsize=16)
def shilkov_python(catalog: Catalog, provider: str) -> ColdStart:
    """Python cold starts of ``provider``'s functions from Shilkov's 2019-2020 study.

    One study, one method and one language for all three providers, so their cold starts
    compare like with like (median and 97.5th percentile -> log-normal).
    """
    table = catalog.coldstart_shilkov
    rows = table[
        (table["provider"] == "all")
        & (table["chart"] == "bylanguage")
        & (table["category"] == f"{SHILKOV_NAMES[provider]} Python")
    ]
    row = rows.iloc[0]
    median, upper = float(row["median_s"]) * 1000.0, float(row["p97_5_s"]) * 1000.0
    return ColdStart(
        median,
        lognormal_sigma(median, upper, Z_P975),
        f"coldstart_shilkov_distributions.csv: {provider} Python (2019-2020, one method)",
    )


def _lambda_perf(catalog: Catalog, memory_mb: int) -> ColdStart:
    """lambda-perf's 2026 hello-world INIT durations (exclude sandbox creation)."""
    stats = catalog.coldstart_aws
    rows = stats[
        (stats["runtime"] == LAMBDA_PERF_RUNTIME)
        & (stats["package_type"] == "zip")
        & (stats["arch"] == "x86_64")
    ]
    measured = rows["memory_mb"].to_numpy()
    closest = measured[abs(measured - memory_mb).argmin()]
    row = rows[rows["memory_mb"] == closest].iloc[0]
    median, p90 = float(row["init_p50_ms"]), float(row["init_p90_ms"])
    return ColdStart(
        median,
        lognormal_sigma(median, p90, Z_P90),
        f"aws_lambda_coldstart_stats_last90d.csv: {LAMBDA_PERF_RUNTIME} zip x86_64 {closest} MB",
    )
