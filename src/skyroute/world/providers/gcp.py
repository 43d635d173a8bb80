"""Google Cloud: Cloud Functions (1st gen) and Cloud Run containers."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

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


class GCP(Provider):
    name = "gcp"
    display_name = "Google Cloud Functions / Cloud Run"
    unsupported: ClassVar[dict[tuple[str, str], str]] = {
        ("function", "spot"): "Cloud Functions have no spot pricing",
        ("container", "spot"): "Cloud Run has no spot pricing",
    }
    function_max_memory_mb = 8192
    function_timeout_s = 540.0
    # 1st gen bills in 100 ms steps.
    function_billing_ms = (100.0, 100.0)
    pue = Sourced(1.1, "Cloud Carbon Footprint GCP PUE")
    container_cold_start = ColdStart(3_000.0, 0.4, "assumption: Cloud Run scale from zero ~3 s")

    def price_tier(self, catalog: Catalog, region: str) -> tuple[str, str]:
        """GCP price tier of a region ("tier1"/"tier2") and where that came from."""
        tiers = catalog.gcp_tiers
        row = tiers[(tiers["generation"] == "gen1") & (tiers["region"] == region)]
        if len(row):
            return f"tier{int(row['price_tier'].iloc[0])}", "gcp_functions_region_tiers.csv"
        return "tier2", "fallback: region not in gcp_functions_region_tiers.csv, tier 2 assumed"

    def function_rate(self, catalog: Catalog, region: str, memory_mb: int) -> Rate:
        tier, tier_source = self.price_tier(catalog, region)
        prices = catalog.serverless_prices
        gen1 = prices[(prices["provider"] == "gcp") & (prices["service"] == "cloud functions gen1")]
        paid = gen1[gen1["plan"] == "pay-per-use"]
        mem = float(
            paid[(paid["region"] == tier) & (paid["dimension"] == "memory")]["price_usd"].iloc[0]
        )
        cpu = float(
            paid[(paid["region"] == tier) & (paid["dimension"] == "cpu")]["price_usd"].iloc[0]
        )
        request = float(paid[paid["dimension"] == "invocations"]["price_usd"].iloc[0])
        ghz = self._ghz(catalog, memory_mb)
        return Rate(
            mem * memory_mb / 1024.0 + cpu * ghz,
            request,
            f"serverless_prices.csv: gcp gen1 {tier} ({tier_source}) memory + GHz",
        )

    def _ghz(self, catalog: Catalog, memory_mb: int) -> float:
        table = catalog.gcp_memory_ghz
        mb = table["memory_mb"].to_numpy(dtype=np.float64)
        ghz = table["cpu_ghz"].to_numpy(dtype=np.float64)
        return float(np.interp(memory_mb, mb, ghz))

    def function_vcpu(self, catalog: Catalog, memory_mb: int) -> float:
        table = catalog.gcp_memory_ghz
        mb = table["memory_mb"].to_numpy(dtype=np.float64)
        vcpu = table["vcpu_equiv"].to_numpy(dtype=np.float64)
        return float(np.interp(memory_mb, mb, vcpu))

    def function_cold_start(self, catalog: Catalog, memory_mb: int) -> ColdStart:
        table = catalog.coldstart_shilkov
        rows = table[(table["provider"] == "gcp") & (table["chart"] == "bymemory")]
        sizes = rows["category"].str.replace(" MB", "").astype(float).to_numpy()
        row = rows.iloc[int(abs(sizes - memory_mb).argmin())]
        median, upper = float(row["median_s"]) * 1000.0, float(row["p97_5_s"]) * 1000.0
        return ColdStart(
            median,
            lognormal_sigma(median, upper, Z_P975),
            f"coldstart_shilkov_distributions.csv: gcp bymemory {row['category']} (2019-2020)",
        )
