"""Which series exist: instance types and regions the shipped price snapshot knows.

Requests name instance types (``m5.large``) and regions (``us-east-1``); the provider follows
from the instance type. Anything unknown is an UnknownNameError with a "did you mean".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.market.points import DATA_TYPES, SeriesKey
from skyroute.world.catalog.loader import Catalog, load_catalog


def provider_of(instance_type: str, catalog: Catalog | None = None) -> str:
    prices = (catalog or load_catalog()).vm_prices
    rows = prices[prices["instance_type"] == instance_type]
    if not len(rows):
        raise UnknownNameError("instance type", instance_type, set(prices["instance_type"]))
    return str(rows["provider"].iloc[0])


def regions_of(instance_type: str, catalog: Catalog | None = None) -> list[str]:
    prices = (catalog or load_catalog()).vm_prices
    return sorted(set(prices.loc[prices["instance_type"] == instance_type, "region"]))


def series_for(
    instance_types: Sequence[str],
    regions: Sequence[str],
    data_types: Iterable[str] = DATA_TYPES,
    catalog: Catalog | None = None,
) -> list[SeriesKey]:
    """Every series of ``data_types`` for the instance types x regions that exist.

    A region must be offered for at least one of the instance types; pairs the snapshot does
    not price (an Azure size in an AWS region) are skipped, not errors.
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
    offered = {t: (provider_of(t, catalog), set(regions_of(t, catalog))) for t in instance_types}
    every_region = set(catalog.vm_prices["region"])
    keys: set[SeriesKey] = set()
    for region in regions:
        if region not in every_region:
            raise UnknownNameError("region", region, every_region)
        pairs = [(t, p) for t, (p, where) in offered.items() if region in where]
        if not pairs:
            raise ConfigError(
                f"none of {list(instance_types)} is offered in {region}",
                f"pick regions where they are, e.g. {sorted(offered[instance_types[0]][1])[:3]}",
            )
        for instance_type, provider in pairs:
            for data_type in types:
                if data_type == "carbon":
                    keys.add(SeriesKey("carbon", provider, region))
                else:
                    keys.add(SeriesKey(data_type, provider, region, instance_type))
    return sorted(keys)
