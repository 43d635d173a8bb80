"""Autoscale series and their per-minute load in the database (one tenant's rows at a time).

A series is a tenant's name for one service; its load is one row per minute, written as an
upsert (posting a minute again replaces it) and pruned to the day before the newest minute
posted -- far more than any forecaster's window (12 minutes for ``skyroute train hierarchy``'s),
and a bounded table: at most 1,440 rows per series, ``SKYROUTE_AUTOSCALE_MAX_SERIES`` series
per tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from skyroute.bundles.forecaster import HORIZON
from skyroute.market.points import utc
from skyroute.serve.auth import now
from skyroute.serve.autoscale_schemas import LoadPoint, SeriesIn
from skyroute.serve.db import commit_or_conflict
from skyroute.serve.errors import ApiError
from skyroute.serve.tables import AutoscaleLoad, AutoscaleSeries

#: Load kept per series, back from its newest minute.
RETENTION = timedelta(days=1)
#: How far ahead of the server's clock a posted minute may be (clock skew, not the future).
MAX_AHEAD = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)
RETAINED_MINUTES = int(RETENTION / MINUTE)


def get_series(session: Session, tenant_id: str, name: str) -> AutoscaleSeries:
    row = session.get(AutoscaleSeries, (tenant_id, name))
    if row is None:
        raise ApiError(
            404,
            "not_found",
            f"no autoscale series {name!r}",
            f"PUT /api/v1/ml/autoscale/series/{name} describes it first",
        )
    return row


def list_series(session: Session, tenant_id: str) -> list[AutoscaleSeries]:
    return list(
        session.scalars(
            select(AutoscaleSeries)
            .where(AutoscaleSeries.tenant_id == tenant_id)
            .order_by(AutoscaleSeries.name)
        )
    )


def _check_service(body: SeriesIn) -> None:
    """The checks between fields (each field's own bounds are the schema's)."""
    if body.max_replicas < body.min_replicas:
        raise ApiError(
            422,
            "invalid_series",
            f"max_replicas {body.max_replicas} is below min_replicas {body.min_replicas}",
            "make max_replicas >= min_replicas",
        )
    if body.startup_minutes + body.lookahead_minutes > HORIZON - 1:
        raise ApiError(
            422,
            "invalid_series",
            f"startup_minutes {body.startup_minutes} and lookahead_minutes "
            f"{body.lookahead_minutes} reach past the {HORIZON} minutes a forecast covers",
            f"keep startup_minutes + lookahead_minutes <= {HORIZON - 1}",
        )


def put_series(
    session: Session, tenant_id: str, name: str, body: SeriesIn, limit: int
) -> tuple[AutoscaleSeries, bool]:
    """Create or replace the series' service; (row, created). Its load is kept."""
    _check_service(body)
    moment = now()
    row = session.get(AutoscaleSeries, (tenant_id, name))
    created = row is None
    if row is None:
        count = session.scalar(
            select(func.count())
            .select_from(AutoscaleSeries)
            .where(AutoscaleSeries.tenant_id == tenant_id)
        )
        if (count or 0) >= limit:
            raise ApiError(
                409,
                "series_limit",
                f"this tenant already has {count} autoscale series, the limit",
                "DELETE a series you no longer scale, or ask the operator to raise "
                "SKYROUTE_AUTOSCALE_MAX_SERIES",
            )
        row = AutoscaleSeries(
            tenant_id=tenant_id, name=name, metric_id=uuid.uuid4().hex, created_at=moment
        )
        session.add(row)
    for field, value in body.model_dump().items():
        setattr(row, field, value)
    row.updated_at = moment
    commit_or_conflict(
        session, f"autoscale series {name!r} was created at the same time", "retry the PUT"
    )
    return row, created


def delete_series(session: Session, tenant_id: str, name: str) -> None:
    row = get_series(session, tenant_id, name)
    session.execute(
        delete(AutoscaleLoad).where(
            AutoscaleLoad.tenant_id == tenant_id, AutoscaleLoad.series == name
        )
    )
    session.delete(row)
    session.commit()


def _minutes(points: Sequence[LoadPoint]) -> list[tuple[datetime, float]]:
    """(UTC minute, calls) per point; whole minutes, none twice, none in the future."""
    latest = now() + MAX_AHEAD
    seen: set[datetime] = set()
    out = []
    for i, point in enumerate(points):
        minute = utc(point.minute)
        if minute.second or minute.microsecond:
            raise ApiError(
                422,
                "invalid_load",
                f"points[{i}].minute {minute.isoformat()} is not the start of a minute",
                "send each minute's start (seconds 0), e.g. 2026-11-29T14:05:00Z",
            )
        if minute > latest:
            raise ApiError(
                422,
                "invalid_load",
                f"points[{i}].minute {minute.isoformat()} is in the future",
                "post a minute once it has ended; check the sender's clock (UTC)",
            )
        if minute in seen:
            raise ApiError(
                422,
                "invalid_load",
                f"points[{i}].minute {minute.isoformat()} appears twice in this request",
                "send each minute once (a later request replaces a stored minute)",
            )
        seen.add(minute)
        out.append((minute, point.calls))
    return out


def write_load(
    session: Session, tenant_id: str, name: str, points: Sequence[LoadPoint]
) -> tuple[int, int]:
    """Upsert the minutes and prune the series to its last day; (written, pruned)."""
    get_series(session, tenant_id, name)
    rows = [
        {"tenant_id": tenant_id, "series": name, "minute": minute, "calls": calls}
        for minute, calls in _minutes(points)
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(AutoscaleLoad).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "series", "minute"],
            set_={"calls": statement.excluded.calls},
        )
    )
    newest = _newest_minute(session, tenant_id, name)
    pruned = 0
    if newest is not None:
        result = session.execute(
            delete(AutoscaleLoad).where(
                AutoscaleLoad.tenant_id == tenant_id,
                AutoscaleLoad.series == name,
                AutoscaleLoad.minute <= newest - RETENTION,
            ),
            execution_options={"synchronize_session": False},
        )
        pruned = int(getattr(result, "rowcount", 0) or 0)
    session.commit()
    return len(rows), pruned


def _newest_minute(session: Session, tenant_id: str, name: str) -> datetime | None:
    value = session.scalar(
        select(func.max(AutoscaleLoad.minute)).where(
            AutoscaleLoad.tenant_id == tenant_id, AutoscaleLoad.series == name
        )
    )
    return utc(value) if value is not None else None


def recent_load(
    session: Session, tenant_id: str, name: str, minutes: int
) -> tuple[list[tuple[datetime, float]], int]:
    """(the stored minutes among the ``minutes`` ending at the newest one, oldest first; how
    many minutes the series holds in all)."""
    newest = _newest_minute(session, tenant_id, name)
    if newest is None:
        return [], 0
    rows = session.execute(
        select(AutoscaleLoad.minute, AutoscaleLoad.calls)
        .where(
            AutoscaleLoad.tenant_id == tenant_id,
            AutoscaleLoad.series == name,
            AutoscaleLoad.minute > newest - minutes * MINUTE,
        )
        .order_by(AutoscaleLoad.minute)
    ).all()
    total = session.scalar(
        select(func.count())
        .select_from(AutoscaleLoad)
        .where(AutoscaleLoad.tenant_id == tenant_id, AutoscaleLoad.series == name)
    )
    return [(utc(m), float(c)) for m, c in rows], int(total or 0)


def store_recommendation(
    session: Session, tenant_id: str, name: str, replicas: int, observed: datetime | None
) -> None:
    """Keep the newest recommendation on the series (what the gauge reports). One computed
    from older load than the stored one (a slower concurrent request) does not replace it."""
    query = update(AutoscaleSeries).where(
        AutoscaleSeries.tenant_id == tenant_id, AutoscaleSeries.name == name
    )
    if observed is not None:
        query = query.where(
            AutoscaleSeries.last_observed_minute.is_(None)
            | (AutoscaleSeries.last_observed_minute <= observed)
        )
    values = {"last_replicas": replicas, "last_observed_minute": observed}
    session.execute(
        query.values(**values, last_computed_at=now()),
        execution_options={"synchronize_session": False},  # naive SQLite times vs aware
    )
    session.commit()
