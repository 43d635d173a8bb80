"""The shipped snapshot as a source: one point per series, on the snapshot's date.

The price snapshot (pricing/vm_ondemand_spot_snapshot.csv) does not record the day it was read;
SkyRoute dates it with the spot advisor snapshot it ships beside (2024-02-28, data/spot/
SOURCE.md), so both embedded tables sit at one instant. Carbon is the region's yearly figure.
"""

from __future__ import annotations

from datetime import date, datetime

from skyroute.errors import UnknownNameError
from skyroute.market.points import MarketPoint, SeriesKey, day_start, utc
from skyroute.world.catalog.carbon import yearly_intensity
from skyroute.world.catalog.loader import Catalog, load_catalog

SNAPSHOT_DATE = date(2024, 2, 28)


def snapshot_value(key: SeriesKey, catalog: Catalog | None = None) -> float | None:
    """The snapshot's value of ``key`` (the mean over zones when no zone is named), or None."""
    catalog = catalog or load_catalog()
    if key.data_type == "carbon":
        region_id = f"{key.provider}:{key.region}"
        try:
            return yearly_intensity(catalog, region_id)[0]
        except UnknownNameError:  # a region the carbon tables do not know
            return None
    prices = catalog.vm_prices
    rows = prices[
        (prices["provider"] == key.provider)
        & (prices["region"] == key.region)
        & (prices["instance_type"] == key.instance_type)
    ]
    if key.zone:
        rows = rows[rows["zone"] == key.zone]
    column = "spot_usd_per_hour" if key.data_type == "spot_price" else "ondemand_usd_per_hour"
    values = rows[column].dropna()
    return float(values.mean()) if len(values) else None


class EmbeddedSource:
    name = "embedded"

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()

    def covers(self, key: SeriesKey) -> bool:
        return snapshot_value(key, self.catalog) is not None

    def fetch(self, key: SeriesKey, start: datetime, end: datetime) -> list[MarketPoint]:
        at = day_start(SNAPSHOT_DATE)
        value = snapshot_value(key, self.catalog)
        if value is None or not utc(start) <= at < utc(end):
            return []
        return [MarketPoint(key, at, value, self.name, synthetic=False)]
