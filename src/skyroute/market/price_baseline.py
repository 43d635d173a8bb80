"""The baseline spot price forecast and the observed price at a moment: pure functions.

The forecast of the live predictions (``serve/live_rounds.py``) is the **recent mean**: the
mean of the last :data:`MEAN_HOURS` hourly spot prices (zone means, carried forward, as
``gapfill.store.hourly_history`` returns them), taken as the price
:data:`~skyroute.market.spot_features.PRICE_HORIZON_HOURS` hours ahead. Spot prices move in
rare steps, so the mean of a day is a hard baseline to beat and never extrapolates a step.

The observed price at ``target`` (the "actual" a price prediction is compared with) is the
mean over zones of each zone's newest price at or before ``target``: AWS reports a spot price
when it changes, so a price stays in effect until the next point.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

#: Hours of history the recent-mean forecast averages.
MEAN_HOURS = 24
METHOD = f"recent-mean-{MEAN_HOURS}h"


def recent_mean(hourly: Sequence[float], hours: int = MEAN_HOURS) -> float | None:
    """Mean of the last ``hours`` values of ``hourly`` (oldest first); None without any."""
    values = [v for v in hourly[-hours:] if v == v]  # drop NaN
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class ZonePoint:
    """One stored spot price: a zone, when it was observed, its value and provenance."""

    zone: str
    at: datetime
    value: float
    synthetic: bool


@dataclass(frozen=True)
class Observed:
    value: float
    synthetic: bool


def in_effect(points: Sequence[ZonePoint], targets: Sequence[datetime]) -> list[Observed | None]:
    """For each target, the mean over zones of the price in effect then (None: no zone had one).

    ``points`` may come in any order; only points at or before a target count for it.
    """
    zones: dict[str, list[ZonePoint]] = {}
    for point in sorted(points, key=lambda p: p.at):
        zones.setdefault(point.zone, []).append(point)
    times = {zone: [p.at for p in rows] for zone, rows in zones.items()}
    out: list[Observed | None] = []
    for target in targets:
        current = []
        for zone, rows in zones.items():
            i = bisect.bisect_right(times[zone], target)
            if i:
                current.append(rows[i - 1])
        if not current:
            out.append(None)
            continue
        mean = sum(p.value for p in current) / len(current)
        out.append(Observed(mean, any(p.synthetic for p in current)))
    return out
