"""The resume cursor: a tenant's stored events after a given one, read back in order.

One :class:`Replay` per stream says which table holds its events, their time column and how
a row becomes an event; rows are ordered by (time, ``id``) and read a page at a time with a
keyset query, so a long replay never holds a transaction or loads everything at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from skyroute.serve.live.events import (
    AlertFilters,
    EventFilter,
    Filters,
    LiveEvent,
    PredictionFilters,
    alert_event_of,
    event_of,
    prediction_event_of,
)
from skyroute.serve.tables import Decision, DriftAlert, SpotRecord
from skyroute.serve.writer import column_values

PAGE_ROWS = 500


class UnknownCursorError(LookupError):
    """``after`` names no event of this tenant on this stream."""


@dataclass(frozen=True)
class Replay:
    """How one stream reads its stored events back."""

    #: What an id names, for messages ("unknown decision id ...").
    noun: str
    table: Any  # the ORM class
    at: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[str]
    tenant_id: InstrumentedAttribute[str]
    #: SQL conditions for the filters the database can apply (the rest apply to events).
    where: Callable[[Any], list[ColumnElement[bool]]]
    event: Callable[[Any], LiveEvent]

    def find_cursor(self, sessions: sessionmaker[Session], tenant_id: str, after: str) -> Any:
        """The time of event ``after`` of ``tenant_id`` (blocking I/O)."""
        with sessions() as session:
            at = session.execute(
                select(self.at).where(self.tenant_id == tenant_id, self.id == after)
            ).scalar_one_or_none()
        if at is None:
            raise UnknownCursorError(after)
        return at

    def page_after(
        self,
        sessions: sessionmaker[Session],
        tenant_id: str,
        cursor: tuple[Any, str],
        filters: EventFilter,
    ) -> tuple[list[LiveEvent], tuple[Any, str] | None]:
        """(events of the next page that pass ``filters``, the cursor after it or None)."""
        at, after = cursor
        query = (
            select(self.table)
            .where(
                self.tenant_id == tenant_id,
                or_(self.at > at, and_(self.at == at, self.id > after)),
                *self.where(filters),
            )
            .order_by(self.at, self.id)
            .limit(PAGE_ROWS)
        )
        with sessions() as session:
            rows = list(session.scalars(query))
            events = [self.event(row) for row in rows]
        following = None
        if len(rows) == PAGE_ROWS:
            following = (getattr(rows[-1], self.at.key), getattr(rows[-1], self.id.key))
        return [event for event in events if filters.matches(event)], following

    def latest(
        self, sessions: sessionmaker[Session], tenant_id: str, limit: int
    ) -> list[LiveEvent]:
        """The tenant's ``limit`` newest events, oldest first (what a page shows before it
        subscribes with ``?after=`` the last one's id)."""
        query = (
            select(self.table)
            .where(self.tenant_id == tenant_id)
            .order_by(self.at.desc(), self.id.desc())
            .limit(limit)
        )
        with sessions() as session:
            events = [self.event(row) for row in session.scalars(query)]
        return events[::-1]


def _decision_where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.engine is not None:
        conditions.append(Decision.engine == filters.engine)
    if filters.provider is not None:
        conditions.append(Decision.provider == filters.provider)
    return conditions


def _prediction_where(filters: PredictionFilters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.instance_type is not None:
        conditions.append(SpotRecord.instance_type == filters.instance_type)
    if filters.region is not None:
        conditions.append(SpotRecord.region == filters.region)
    return conditions


DECISIONS = Replay(
    noun="decision",
    table=Decision,
    at=Decision.created_at,
    id=Decision.id,
    tenant_id=Decision.tenant_id,
    where=_decision_where,
    event=lambda row: event_of(column_values(row), None),
)

PREDICTIONS = Replay(
    noun="prediction",
    table=SpotRecord,
    at=SpotRecord.at,
    id=SpotRecord.id,
    tenant_id=SpotRecord.tenant_id,
    where=_prediction_where,
    event=lambda row: prediction_event_of(row, None),
)


def _alert_where(filters: AlertFilters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.kind is not None:
        conditions.append(DriftAlert.kind == filters.kind)
    if filters.engine is not None:
        conditions.append(DriftAlert.engine == filters.engine)
    return conditions


ALERTS = Replay(
    noun="alert",
    table=DriftAlert,
    at=DriftAlert.created_at,
    id=DriftAlert.id,
    tenant_id=DriftAlert.tenant_id,
    where=_alert_where,
    event=lambda row: alert_event_of(row, None),
)
