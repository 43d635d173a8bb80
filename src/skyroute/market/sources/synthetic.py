"""A labelled synthetic extension of the snapshot, hourly, for any date.

Every point it makes has ``synthetic=True`` and every answer built on one says so. The shape is
plain and documented (docs/gapfill.md) rather than clever:

- spot price = snapshot spot price x exp(m(t)), capped at the on-demand price, where m(t) is a
  daily cycle (cheapest at night UTC, amplitude 4%), three slow waves with periods of 3.1, 11.3
  and 29.7 days (amplitude 5% each, phases drawn from the series' name) and hourly noise (3%);
- on-demand price = the snapshot's, flat (list prices change rarely);
- carbon = the region's 2022 hourly grid series at the same hour of the year where one exists
  (US regions), else its yearly figure with a +-8% daily cycle peaking at 18:00 UTC.

Values depend only on the series and the hour (noise is hashed from both), so fetching a range
twice, or in different chunks, gives identical points.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

import numpy as np

from skyroute.market.points import MarketPoint, SeriesKey, hours_between
from skyroute.market.sources.embedded import snapshot_value
from skyroute.world.catalog.carbon import balancing_authority, hourly_intensity
from skyroute.world.catalog.loader import Catalog, load_catalog

SLOW_PERIODS_DAYS = (3.1, 11.3, 29.7)
SLOW_AMPLITUDE = 0.05
DAILY_AMPLITUDE = 0.04
NOISE_SD = 0.03
CARBON_DAILY_AMPLITUDE = 0.08


def _unit_hash(*parts: object) -> float:
    """A uniform number in (0, 1) that depends only on ``parts``."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


def _normal(*parts: object) -> float:
    """A standard normal number that depends only on ``parts`` (Box-Muller on two hashes)."""
    u1, u2 = _unit_hash(*parts, "a"), _unit_hash(*parts, "b")
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def spot_multiplier(key: SeriesKey, hour: datetime) -> float:
    """exp(m(t)) of the module docstring for one series and hour."""
    epoch_hours = hour.timestamp() / 3600.0
    daily = DAILY_AMPLITUDE * math.sin(2.0 * math.pi * (hour.hour - 9) / 24.0)
    slow = sum(
        SLOW_AMPLITUDE
        * math.sin(
            2.0 * math.pi * epoch_hours / (24.0 * period)
            + 2.0 * math.pi * _unit_hash(key.label, period)
        )
        for period in SLOW_PERIODS_DAYS
    )
    noise = NOISE_SD * _normal(key.label, int(epoch_hours))
    return math.exp(daily + slow + noise)


class SyntheticSource:
    name = "synthetic"

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()

    def covers(self, key: SeriesKey) -> bool:
        return snapshot_value(key, self.catalog) is not None

    def fetch(self, key: SeriesKey, start: datetime, end: datetime) -> list[MarketPoint]:
        base = snapshot_value(key, self.catalog)
        if base is None:
            return []
        hours = hours_between(start, end)
        if key.data_type == "spot_price":
            ceiling = snapshot_value(
                SeriesKey("ondemand_price", key.provider, key.region, key.instance_type, key.zone),
                self.catalog,
            )
            values = [base * spot_multiplier(key, h) for h in hours]
            if ceiling is not None:
                values = [min(v, ceiling) for v in values]
        elif key.data_type == "ondemand_price":
            values = [base] * len(hours)
        else:
            values = self._carbon(key, hours, base)
        return [
            MarketPoint(key, h, round(float(v), 6), self.name, synthetic=True)
            for h, v in zip(hours, values, strict=True)
        ]

    def _carbon(self, key: SeriesKey, hours: list[datetime], yearly: float) -> list[float]:
        region_id = f"{key.provider}:{key.region}"
        if balancing_authority(self.catalog, region_id) is not None:
            series, _ = hourly_intensity(self.catalog, region_id)
            index = [(h.timetuple().tm_yday - 1) * 24 + h.hour for h in hours]
            return [float(series[min(i, len(series) - 1)]) for i in index]
        cycle = np.sin(2.0 * np.pi * (np.array([h.hour for h in hours]) - 12) / 24.0)
        return list(yearly * (1.0 + CARBON_DAILY_AMPLITUDE * cycle))
