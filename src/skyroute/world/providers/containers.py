"""Container prices per region, published where they exist and derived where they do not.

Only AWS Fargate publishes per-vCPU and per-GB prices in the shipped data (us-east-1 and
sa-east-1). Everywhere else the price is *derived*, and labelled so:

    rate(provider, region) = Fargate us-east-1 rate x vm_index(provider, region)

``vm_index`` is the on-demand price per vCPU of a general-purpose VM family in that region
divided by the same figure for AWS m5.large in us-east-1 (from vm_ondemand_spot_snapshot.csv):
it carries both the provider's price level and the region's premium. Regions without a VM price
take their provider's median index. Spot rates apply a discount: Fargate Spot's published
sa-east-1 ratio for AWS, the region's (else the provider's median) VM spot/on-demand ratio for
Azure. Cloud Run has no spot offer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from skyroute.world.providers.base import ON_DEMAND, Rate, container_vcpu

if TYPE_CHECKING:
    import pandas as pd

    from skyroute.world.catalog.loader import Catalog

#: The VM family standing for "general-purpose compute" of each provider.
REFERENCE_VM = {"aws": "m5.large", "azure": "Standard_D4s_v5", "gcp": "n1-standard-96"}
#: Fargate bills at least 0.5 GB of memory.
MIN_BILLED_MEMORY_MB = 512


def _vm_rows(catalog: Catalog, provider: str) -> pd.DataFrame:
    vms = catalog.vm_prices
    rows = vms[(vms["provider"] == provider) & (vms["instance_type"] == REFERENCE_VM[provider])]
    priced: pd.DataFrame = rows.assign(od_per_vcpu=rows["ondemand_usd_per_hour"] / rows["vcpus"])
    return priced


def vm_index(catalog: Catalog, provider: str, region: str) -> tuple[float, str]:
    """Price level of ``provider``'s general-purpose VMs in ``region`` relative to AWS us-east-1."""
    base = _vm_rows(catalog, "aws")
    base_price = float(base[base["region"] == "us-east-1"]["od_per_vcpu"].median())
    rows = _vm_rows(catalog, provider)
    here = rows[rows["region"] == region]
    if len(here):
        return float(here["od_per_vcpu"].median()) / base_price, (
            f"derived: {REFERENCE_VM[provider]} price in {region} / m5.large us-east-1"
        )
    return float(rows["od_per_vcpu"].median()) / base_price, (
        f"derived: median {REFERENCE_VM[provider]} price of {provider} / m5.large us-east-1 "
        f"({region} has no VM price)"
    )


def spot_discount(catalog: Catalog, provider: str, region: str) -> tuple[float, str]:
    """Spot price as a fraction of on-demand for containers of ``provider`` in ``region``."""
    if provider == "aws":
        fargate = catalog.fargate_prices
        x86 = fargate[(fargate["arch"] == "x86_64") & (fargate["region"] == "sa-east-1")]
        spot = float(x86[x86["plan"].str.startswith("spot")]["usd_per_vcpu_hour"].iloc[0])
        od = float(x86[x86["plan"] == ON_DEMAND]["usd_per_vcpu_hour"].iloc[0])
        return spot / od, "container_fargate_prices.csv: Fargate Spot / on-demand in sa-east-1"
    rows = _vm_rows(catalog, provider)
    ratio = rows["spot_usd_per_hour"] / rows["ondemand_usd_per_hour"]
    here = ratio[rows["region"] == region]
    if len(here):
        return float(here.median()), f"derived: {REFERENCE_VM[provider]} spot/on-demand in {region}"
    return float(np.median(ratio)), f"derived: median {provider} VM spot/on-demand"


def container_rate(
    catalog: Catalog, provider: str, region: str, purchase: str, memory_mb: int
) -> Rate:
    """Price per second of the smallest container task that holds ``memory_mb``."""
    vcpu = container_vcpu(memory_mb)
    gb = max(memory_mb, MIN_BILLED_MEMORY_MB) / 1024.0
    fargate = catalog.fargate_prices
    x86 = fargate[fargate["arch"] == "x86_64"]
    plan_rows = (
        x86[x86["plan"] == ON_DEMAND]
        if purchase == ON_DEMAND
        else x86[x86["plan"].str.startswith("spot")]
    )
    published = plan_rows[(plan_rows["region"] == region)] if provider == "aws" else plan_rows[:0]
    if len(published):
        row = published.iloc[0]
        per_hour = vcpu * float(row["usd_per_vcpu_hour"]) + gb * float(row["usd_per_gb_hour"])
        return Rate(per_hour / 3600.0, 0.0, f"container_fargate_prices.csv: {region} {purchase}")
    base = x86[(x86["plan"] == ON_DEMAND) & (x86["region"] == "us-east-1")].iloc[0]
    index, source = vm_index(catalog, provider, region)
    per_hour = index * (
        vcpu * float(base["usd_per_vcpu_hour"]) + gb * float(base["usd_per_gb_hour"])
    )
    if purchase != ON_DEMAND:
        discount, spot_source = spot_discount(catalog, provider, region)
        per_hour *= discount
        source = f"{source}; {spot_source}"
    return Rate(per_hour / 3600.0, 0.0, source)
