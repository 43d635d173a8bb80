"""Market points in the database: idempotent writes and the reads predictions need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from skyroute.gapfill.tables import GapFillChunk, MarketPointRow
from skyroute.market.points import MarketPoint, SeriesKey, utc


def write_points(session: Session, points: Sequence[MarketPoint]) -> int:
    """Insert ``points``, skipping any already stored; returns how many rows are new.

    The caller commits, so the points and whatever records them (a chunk) land together.
    """
    if not points:
        return 0
    rows = [
        {
            "data_type": p.key.data_type,
            "provider": p.key.provider,
            "region": p.key.region,
            "instance_type": p.key.instance_type,
            "zone": p.key.zone,
            "at": utc(p.at),
            "value": p.value,
            "source": p.source,
            "synthetic": p.synthetic,
        }
        for p in points
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING lists only the rows inserted; rowcount is not reliable across drivers here.
    statement = insert(MarketPointRow).values(rows).on_conflict_do_nothing()
    return len(session.execute(statement.returning(MarketPointRow.id)).all())


def _series(key: SeriesKey) -> list[ColumnElement[bool]]:
    """Filters for one series over all its zones (predictions use the regional view)."""
    return [
        MarketPointRow.data_type == key.data_type,
        MarketPointRow.provider == key.provider,
        MarketPointRow.region == key.region,
        MarketPointRow.instance_type == key.instance_type,
    ]


def hours_covered(session: Session, key: SeriesKey, start: datetime, end: datetime) -> int:
    """Distinct hours in [start, end) with at least one point of ``key``."""
    rows = session.scalars(
        select(MarketPointRow.at).where(
            *_series(key), MarketPointRow.at >= utc(start), MarketPointRow.at < utc(end)
        )
    ).all()
    return len({utc(at).replace(minute=0, second=0, microsecond=0) for at in rows})


def fresh_until(session: Session, key: SeriesKey) -> tuple[datetime | None, bool]:
    """(until when ``key`` is known, whether the newest point is synthetic).

    Known until the later of its newest point and the end of the newest filled chunk for it:
    AWS reports only price changes, so a filled day without a change is still known.
    """
    newest = session.execute(
        select(MarketPointRow.at, MarketPointRow.synthetic)
        .where(*_series(key))
        .order_by(MarketPointRow.at.desc())
        .limit(1)
    ).first()
    filled = session.scalar(
        select(func.max(GapFillChunk.end)).where(
            GapFillChunk.status == "done",
            GapFillChunk.data_type == key.data_type,
            GapFillChunk.provider == key.provider,
            GapFillChunk.region == key.region,
            GapFillChunk.instance_type == key.instance_type,
        )
    )
    moments = [utc(m) for m in (newest[0] if newest else None, filled) if m is not None]
    if not moments:
        return None, False
    return max(moments), bool(newest[1]) if newest else False


def hourly_history(
    session: Session, key: SeriesKey, before: datetime, hours: int
) -> tuple[list[float], bool]:
    """(hourly values of ``key`` in the ``hours`` hours up to ``before``, any synthetic among them).

    The last hour is the one ``before`` falls in (its points before ``before`` only).

    Each hour takes the mean over zones of the points in it; hours without a point carry the
    last known value forward (prices are step functions); leading gaps are dropped.
    """
    before = utc(before)
    last_hour = before.replace(minute=0, second=0, microsecond=0)
    since = last_hour - timedelta(hours=hours - 1)
    rows = session.execute(
        select(MarketPointRow.at, MarketPointRow.value, MarketPointRow.synthetic)
        .where(*_series(key), MarketPointRow.at >= since, MarketPointRow.at < before)
        .order_by(MarketPointRow.at)
    ).all()
    carried = latest_value(session, key, since)  # the price in effect when the window opens
    last: float | None = carried[0] if carried else None
    buckets: dict[datetime, list[float]] = {}
    synthetic = False
    for at, value, is_synthetic in rows:
        at = utc(at)
        buckets.setdefault(at.replace(minute=0, second=0, microsecond=0), []).append(value)
        synthetic = synthetic or bool(is_synthetic)
    values: list[float] = []
    for step in range(hours):
        here = buckets.get(since + timedelta(hours=step))
        if here:
            last = sum(here) / len(here)
        if last is not None:
            values.append(last)
    return values, synthetic


def latest_value(session: Session, key: SeriesKey, before: datetime) -> tuple[float, bool] | None:
    """(newest value of ``key`` before ``before``, synthetic?) or None."""
    row = session.execute(
        select(MarketPointRow.value, MarketPointRow.synthetic)
        .where(*_series(key), MarketPointRow.at < utc(before))
        .order_by(MarketPointRow.at.desc())
        .limit(1)
    ).first()
    return (float(row[0]), bool(row[1])) if row else None


def count_points(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(MarketPointRow)) or 0)
