"""``GET /api/v1/ml/decisions/recent``: the newest stored decisions, as the stream sends them.

A page that shows a stream needs what happened before it connected: it reads the recent events
here, then opens ``/decisions/live?after=<the last id>``, so it misses nothing in between.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from skyroute.serve.live.replay import DECISIONS
from skyroute.serve.monitoring_schemas import DecisionEventOut
from skyroute.serve.routes.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/ml", tags=["live"])


@router.get("/decisions/recent", response_model=list[DecisionEventOut])
async def recent_decisions(
    state: StateDep, tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The tenant's ``limit`` newest decisions, oldest first, in the stream's event format."""
    events = await run_in_threadpool(DECISIONS.latest, state.sessions, tenant, limit)
    return [asdict(event) for event in events]  # type: ignore[call-overload]
