"""What a model is missing: the gap since ``trained_until`` and each series' coverage in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from skyroute.errors import ConfigError
from skyroute.gapfill.store import fresh_until, hours_covered
from skyroute.market.points import SeriesKey, day_start

#: The market data each kind of model reads at prediction time.
REQUIRED_DATA_TYPES: dict[str, tuple[str, ...]] = {
    "spot.interruption": ("spot_price", "ondemand_price"),
    "spot.price": ("spot_price",),
    "placement.strategic": ("ondemand_price", "carbon"),
    "placement.tactical": ("ondemand_price", "carbon"),
    "forecast.load": (),
    "router.platform": ("ondemand_price",),
}


@dataclass(frozen=True)
class FillRange:
    """Whole UTC days ``start`` (inclusive) to ``end`` (exclusive) to fill."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def day_bounds(self) -> list[tuple[datetime, datetime]]:
        first = day_start(self.start)
        return [
            (first + timedelta(days=i), first + timedelta(days=i + 1)) for i in range(self.days)
        ]


def today() -> date:
    return datetime.now(UTC).date()


def parse_trained_until(value: str | None, model: str) -> date:
    """A model's ``trained_until`` as a date, or a ConfigError saying how to give one."""
    if not value:
        raise ConfigError(
            f"model {model} has no trained_until, so its gap cannot be measured",
            "re-export the bundle with trained_until (YYYY-MM-DD) or pass trained_until",
        )
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ConfigError(
            f"model {model} has trained_until {value!r}, not a date", "use YYYY-MM-DD"
        ) from None


def fill_range(start: date, end: date, cap_days: int) -> FillRange:
    """The days to fill, checked against GAP_FILLER_HISTORIC_DAYS_MAX and the calendar."""
    if end > today() + timedelta(days=1):
        raise ConfigError(f"the fill ends {end}, in the future", f"end on {today()} at the latest")
    if start >= end:
        raise ConfigError(f"the fill range {start} .. {end} is empty", "start before it ends")
    days = (end - start).days
    if days > cap_days:
        raise ConfigError(
            f"the fill range {start} .. {end} is {days} days, above the cap of {cap_days}",
            f"start on {end - timedelta(days=cap_days)} or later, or raise "
            "GAP_FILLER_HISTORIC_DAYS_MAX",
        )
    return FillRange(start, end)


@dataclass(frozen=True)
class NotFilled:
    """The older part of a model's gap that a fill leaves out because of the day cap."""

    start: date
    end: date  # exclusive

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": (self.end - timedelta(days=1)).isoformat(),
            "days": (self.end - self.start).days,
            "reason": "older than GAP_FILLER_HISTORIC_DAYS_MAX days before the fill's end",
        }


def capped_start(start: date, end: date, cap_days: int) -> tuple[date, NotFilled | None]:
    """Where a fill of a model's gap [start, end) starts: at most ``cap_days`` before ``end``.

    A model trained years ago still gets the recent days it predicts from; the days before the
    cap are returned as :class:`NotFilled`, so the job can say what it could not fill.
    """
    first = end - timedelta(days=cap_days)
    if start >= first:
        return start, None
    return first, NotFilled(start, first)


def coverage(
    session: Session, keys: list[SeriesKey], start: date, end: date
) -> list[dict[str, object]]:
    """Per series: hours expected and present in [start, end), and until when it is known."""
    expected = max(0, (end - start).days * 24)
    out: list[dict[str, object]] = []
    for key in keys:
        present = hours_covered(session, key, day_start(start), day_start(end))
        until, synthetic = fresh_until(session, key)
        out.append(
            {
                "series": key.label,
                "data_type": key.data_type,
                "provider": key.provider,
                "region": key.region,
                "instance_type": key.instance_type,
                "hours_expected": expected,
                "hours_present": present,
                "coverage": round(present / expected, 4) if expected else 1.0,
                "fresh_until": until.isoformat() if until else None,
                "synthetic": synthetic,
            }
        )
    return out
