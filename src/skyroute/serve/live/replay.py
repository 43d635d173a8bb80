"""The resume cursor: a tenant's stored decisions after a given one, read back in order.

Decisions are ordered by (``created_at``, ``id``); a page is read with a keyset query, so a
long replay never holds a transaction or loads everything at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from skyroute.serve.live.events import DecisionEvent, Filters, event_of
from skyroute.serve.tables import Decision
from skyroute.serve.writer import column_values

PAGE_ROWS = 500


class UnknownCursorError(LookupError):
    """``after`` names no decision of this tenant."""


def find_cursor(sessions: sessionmaker[Session], tenant_id: str, after: str) -> Any:
    """The ``created_at`` of decision ``after`` of ``tenant_id`` (blocking I/O)."""
    with sessions() as session:
        created = session.execute(
            select(Decision.created_at).where(Decision.tenant_id == tenant_id, Decision.id == after)
        ).scalar_one_or_none()
    if created is None:
        raise UnknownCursorError(after)
    return created


def page_after(
    sessions: sessionmaker[Session],
    tenant_id: str,
    cursor: tuple[Any, str],
    filters: Filters,
) -> tuple[list[DecisionEvent], tuple[Any, str] | None]:
    """(events of the next page that pass ``filters``, the cursor after it or None at the end)."""
    created, after = cursor
    query = (
        select(Decision)
        .where(
            Decision.tenant_id == tenant_id,
            or_(
                Decision.created_at > created,
                and_(Decision.created_at == created, Decision.id > after),
            ),
        )
        .order_by(Decision.created_at, Decision.id)
        .limit(PAGE_ROWS)
    )
    if filters.engine is not None:
        query = query.where(Decision.engine == filters.engine)
    if filters.provider is not None:
        query = query.where(Decision.provider == filters.provider)
    with sessions() as session:
        rows = [column_values(row) for row in session.scalars(query)]
    events = [event_of(row, None) for row in rows]
    following = (rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == PAGE_ROWS else None
    return [event for event in events if filters.matches(event)], following
