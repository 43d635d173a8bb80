"""AWS Fargate (ECS tasks), on demand and Fargate Spot.

As sold (aws.amazon.com/fargate/pricing): per vCPU-hour and GB-hour of the task size, billed per
second with a one-minute minimum, from image pull until the task stops. A task does not scale to
zero per request: an ECS service keeps tasks running and scales in only after its scale-in
alarm has seen low load for a while. SkyRoute models a *pool* per function: tasks are added as
calls overlap (each call's busy time is billed, with the headroom the autoscaler keeps), and the
last task lives ``fargate_keepalive_s`` after the last call ends, billed all that time; a call
arriving after that starts a new task (cold, start time billed).

Published prices: us-east-1, sa-east-1, ap-northeast-1 and ap-southeast-2 (Spot in sa-east-1
and ap-southeast-2). Elsewhere the on-demand price is *derived* and labelled: us-east-1 x the
region's m5.large price / us-east-1's; Spot = on-demand x the published sa-east-1 Spot ratio.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from skyroute.world.products.base import (
    ON_DEMAND,
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
    import pandas as pd

    from skyroute.world.catalog.loader import Catalog
    from skyroute.world.model import WorldConfig

#: The VM whose regional price carries Fargate's regional premium where none is published.
REFERENCE_VM = "m5.large"


class Fargate(ContainerProduct):
    name = "aws-fargate"
    provider = "aws"
    display_name = "AWS Fargate"
    max_memory_mb = 122_880
    purchases = (ON_DEMAND, SPOT)
    warmth = Warmth.POOL
    timeout_s = Sourced(float("inf"), "ECS tasks have no run-time limit")
    billing = Billing(
        step_ms=1.0,
        minimum_ms=0.0,
        init_billed_max_ms=float("inf"),
        source=(
            "billing_rules_and_limits.csv: per second, 60 s minimum (met by the keep-alive of at "
            "least 60 s), billed from image pull: the start-up is billed"
        ),
    )

    def price(self, catalog: Catalog, region: str, memory_mb: int, purchase: str) -> Price:
        vcpu, gb = container_vcpu(memory_mb), memory_mb / 1024.0
        (per_vcpu_h, per_gb_h), source = fargate_rates(catalog, region, purchase)
        per_second = (vcpu * per_vcpu_h + gb * per_gb_h) / 3600.0
        return Price(per_second, 0.0, source, idle_usd_per_second=per_second)

    def cold_start(self, catalog: Catalog, config: WorldConfig, memory_mb: int) -> ColdStart:
        return ColdStart(
            config.fargate_start_s * 1000.0,
            0.3,
            "container_startup_latency.csv: Fargate task billable start ~40 s (ap-northeast-1, "
            "2026, n=2); world parameter fargate_start_s",
        )

    def keepalive_s(self, config: WorldConfig) -> Sourced:
        return Sourced(
            config.fargate_keepalive_s,
            "assumption: an ECS service scales in after 15 min of low load (target tracking); "
            "world parameter fargate_keepalive_s",
        )


def _published(catalog: Catalog, region: str, plan: str) -> pd.DataFrame:
    table = catalog.fargate_prices
    rows = table[(table["arch"] == "x86_64") & (table["region"] == region)]
    picked: pd.DataFrame = (
        rows[rows["plan"] == ON_DEMAND]
        if plan == ON_DEMAND
        else rows[rows["plan"].str.startswith("spot")]
    )
    return picked


@functools.lru_cache(maxsize=256)
def fargate_rates(catalog: Catalog, region: str, purchase: str) -> tuple[tuple[float, float], str]:
    """(USD per vCPU-hour, USD per GB-hour) of x86 Fargate in ``region``, and the source."""
    here = _published(catalog, region, purchase)
    if len(here):
        row = here.iloc[0]
        return (float(row["usd_per_vcpu_hour"]), float(row["usd_per_gb_hour"])), (
            f"container_fargate_prices.csv: {region} {purchase}"
        )
    if purchase == ON_DEMAND:
        base = _published(catalog, "us-east-1", ON_DEMAND).iloc[0]
        index, source = vm_index(catalog, region)
        rates = (index * float(base["usd_per_vcpu_hour"]), index * float(base["usd_per_gb_hour"]))
        return rates, source
    (od_cpu, od_gb), source = fargate_rates(catalog, region, ON_DEMAND)
    ratio = spot_ratio(catalog)
    return (od_cpu * ratio, od_gb * ratio), f"{source}; x Fargate Spot/on-demand of sa-east-1"


def vm_index(catalog: Catalog, region: str) -> tuple[float, str]:
    """m5.large's on-demand price in ``region`` over its us-east-1 price (1.0 if unknown)."""
    vms = catalog.vm_prices
    rows = vms[(vms["provider"] == "aws") & (vms["instance_type"] == REFERENCE_VM)]
    base = float(rows[rows["region"] == "us-east-1"]["ondemand_usd_per_hour"].median())
    here = rows[rows["region"] == region]
    if len(here):
        index = float(here["ondemand_usd_per_hour"].median()) / base
        return index, f"derived: Fargate us-east-1 x m5.large {region}/us-east-1 ({index:.3f})"
    index = float(rows["ondemand_usd_per_hour"].median()) / base
    return index, f"derived: Fargate us-east-1 x median m5.large premium ({region} unpriced)"


def spot_ratio(catalog: Catalog) -> float:
    """Fargate Spot's published vCPU price over on-demand in sa-east-1."""
    spot = _published(catalog, "sa-east-1", SPOT).iloc[0]
    od = _published(catalog, "sa-east-1", ON_DEMAND).iloc[0]
    return float(spot["usd_per_vcpu_hour"]) / float(od["usd_per_vcpu_hour"])
