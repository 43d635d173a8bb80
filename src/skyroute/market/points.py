"""What one market observation is: a series key, a time, a value, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

#: The kinds of series the store holds, with their units.
DATA_TYPES: dict[str, str] = {
    "spot_price": "USD per instance-hour",
    "ondemand_price": "USD per instance-hour",
    "carbon": "gCO2e per kWh",
}
#: Sources, best first; ``synthetic`` is always labelled as such in every answer built on it.
SOURCES = ("aws", "embedded", "synthetic")


@dataclass(frozen=True, order=True)
class SeriesKey:
    """One time series: a data type for a provider/region and (for prices) an instance type.

    ``zone`` is an availability zone for prices that differ per zone (AWS spot), else ``""``;
    ``instance_type`` is ``""`` for carbon.
    """

    data_type: str
    provider: str
    region: str
    instance_type: str = ""
    zone: str = ""

    def __post_init__(self) -> None:
        if self.data_type not in DATA_TYPES:
            raise ValueError(f"unknown data type {self.data_type!r}; use one of {list(DATA_TYPES)}")

    @property
    def label(self) -> str:
        parts = [self.data_type, self.provider, self.region, self.instance_type, self.zone]
        return "/".join(p for p in parts if p)


@dataclass(frozen=True)
class MarketPoint:
    key: SeriesKey
    at: datetime  # UTC, timezone-aware
    value: float
    source: str
    synthetic: bool


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Whole UTC hours ``start <= h < end`` (start rounded up to the hour)."""
    start, end = utc(start), utc(end)
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    count = max(0, int((end - first).total_seconds() // 3600) + 1)
    return [h for h in (first + timedelta(hours=i) for i in range(count)) if h < end]
