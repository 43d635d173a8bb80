"""Which series exist: every instance type and region the shipped data prices or rates.

Two shipped tables name instance types: the price snapshot (pricing/vm_ondemand_spot_snapshot.csv:
on-demand and spot prices per AWS zone or Azure/GCP region) and the AWS Spot Advisor
(spot/aws_spot_advisor_interruption_2024-02.csv: an interruption bucket, savings, vCPU and memory
for 11,948 region x type pairs). The universe is their union; each :class:`Offer` says, per series,
whether its values are measured (and in which file) or derived (and how), or absent. Nothing is
invented: a pair the snapshot does not price has no price series.

Requests name instance types (``m5.large``) and regions (``us-east-1``); the provider follows
from the instance type. Anything unknown is an UnknownNameError with a "did you mean".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.market.points import DATA_TYPES, SeriesKey
from skyroute.world.catalog.loader import Catalog, load_catalog

PRICES_FILE = "pricing/vm_ondemand_spot_snapshot.csv"
ADVISOR_FILE = "spot/aws_spot_advisor_interruption_2024-02.csv"
#: Provenance labels of the three series a pool has (``None`` on an Offer: not shipped).
MEASURED_PRICE = f"measured: {PRICES_FILE} (skypilot-catalog, from the providers' price APIs)"
MEASURED_BUCKET = f"measured: {ADVISOR_FILE} (AWS Spot Advisor)"
DERIVED_BUCKET = "derived: bucket 2, the middle of 0..4 (the Spot Advisor does not rate this pool)"


@dataclass(frozen=True)
class Offer:
    """One instance type in one region, and where each of its series comes from."""

    provider: str
    instance_type: str
    region: str
    vcpus: float
    memory_gib: float
    ondemand_price: str | None  # provenance, None when no shipped file prices it
    spot_price: str | None
    interruption_bucket: str

    @property
    def priced(self) -> bool:
        return self.ondemand_price is not None and self.spot_price is not None


@functools.lru_cache(maxsize=4)
def offers(catalog: Catalog | None = None) -> dict[tuple[str, str], Offer]:
    """Every (instance type, region) pair the shipped data prices or rates."""
    catalog = catalog or load_catalog()
    prices = catalog.vm_prices.drop_duplicates(["provider", "instance_type", "region"])
    advisor = catalog.spot_advisor
    pairs = zip(advisor["instance_type"], advisor["region"], strict=True)
    rated = {(str(t), str(r)) for t, r in pairs}
    out: dict[tuple[str, str], Offer] = {}
    priced = ("provider", "instance_type", "region", "vcpus", "memory_gib")
    for provider, kind, region, vcpus, memory in zip(*map(prices.get, priced), strict=True):
        pair = (str(kind), str(region))
        bucket = MEASURED_BUCKET if pair in rated else DERIVED_BUCKET
        size = (float(vcpus), float(memory))
        out[pair] = Offer(str(provider), *pair, *size, MEASURED_PRICE, MEASURED_PRICE, bucket)
    rated_columns = ("instance_type", "region", "vcpus", "ram_gb")
    for kind, region, vcpus, memory in zip(*map(advisor.get, rated_columns), strict=True):
        pair = (str(kind), str(region))
        if pair not in out:  # rated, not priced: vCPU and memory from the advisor feed
            out[pair] = Offer(
                "aws", *pair, float(vcpus), float(memory), None, None, MEASURED_BUCKET
            )
    return out


def _providers(catalog: Catalog | None) -> dict[str, str]:
    return {t: o.provider for (t, _), o in offers(catalog).items()}


def provider_of(instance_type: str, catalog: Catalog | None = None) -> str:
    providers = _providers(catalog)
    if instance_type not in providers:
        raise UnknownNameError("instance type", instance_type, set(providers))
    return providers[instance_type]


def regions_of(
    instance_type: str, catalog: Catalog | None = None, *, priced: bool = False
) -> list[str]:
    """Regions where ``instance_type`` is offered (with ``priced``: where it has prices)."""
    return sorted(
        r
        for (t, r), o in offers(catalog).items()
        if t == instance_type and (o.priced or not priced)
    )


def series_for(
    instance_types: Sequence[str],
    regions: Sequence[str],
    data_types: Iterable[str] = DATA_TYPES,
    catalog: Catalog | None = None,
) -> list[SeriesKey]:
    """Every series of ``data_types`` for the instance types x regions that have prices.

    A region must be priced for at least one of the instance types; pairs the shipped data does
    not price (an Azure size in an AWS region, a type the Spot Advisor rates but no price file
    lists) are skipped, not errors.
    """
    catalog = catalog or load_catalog()
    if not instance_types or not regions:
        raise ConfigError(
            "no instance types or no regions given", "name at least one of each, e.g. m5.large"
        )
    types = list(dict.fromkeys(data_types))
    for data_type in types:
        if data_type not in DATA_TYPES:
            raise UnknownNameError("data type", data_type, DATA_TYPES)
    offered = {
        t: (provider_of(t, catalog), set(regions_of(t, catalog, priced=True)))
        for t in instance_types
    }
    every_region = {r for _, r in offers(catalog)}
    keys: set[SeriesKey] = set()
    for region in regions:
        if region not in every_region:
            raise UnknownNameError("region", region, every_region)
        pairs = [(t, p) for t, (p, where) in offered.items() if region in where]
        if not pairs:
            raise ConfigError(
                f"none of {list(instance_types)} is priced in {region} by the shipped data",
                f"pick regions where they are, e.g. {sorted(offered[instance_types[0]][1])[:3]}",
            )
        for instance_type, provider in pairs:
            for data_type in types:
                if data_type == "carbon":
                    keys.add(SeriesKey("carbon", provider, region))
                else:
                    keys.add(SeriesKey(data_type, provider, region, instance_type))
    return sorted(keys)
