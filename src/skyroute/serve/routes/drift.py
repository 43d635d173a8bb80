"""``/api/v1/ml/drift``: a tenant's stored drift alerts and its current drift status.

Alerts are stored by the drift monitor (``serve/drift_monitor.py``) and streamed on
``/api/v1/ml/alerts/live``; the status computes every group's current window on demand from
the same code the monitor runs (``serve/drift.py``), so it is the same whichever worker answers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from skyroute.serve import drift
from skyroute.serve.live.events import alert_event_of
from skyroute.serve.monitoring_schemas import DriftAlertsOut, DriftStatusOut
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.tables import DriftAlert

router = APIRouter(prefix="/api/v1/ml/drift", tags=["drift"])


@router.get("/alerts", response_model=DriftAlertsOut)
def alerts(
    session: SessionDep,
    tenant: TenantDep,
    kind: Literal["input", "error"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The tenant's drift alerts, newest first (``kind``: input or error)."""
    query = select(DriftAlert).where(DriftAlert.tenant_id == tenant)
    if kind is not None:
        query = query.where(DriftAlert.kind == kind)
    rows = session.scalars(
        query.order_by(DriftAlert.created_at.desc(), DriftAlert.id.desc()).limit(limit)
    )
    shown = []
    for row in rows:
        event = alert_event_of(row, None).__dict__
        shown.append({k: v for k, v in event.items() if k not in ("tenant_id", "worker")})
    return {"alerts": shown}


@router.get("/status", response_model=DriftStatusOut)
def status(session: SessionDep, tenant: TenantDep, state: StateDep) -> Any:
    """Every (engine, model version) of the tenant's recent decisions: its current window's
    statistics per feature, input and error."""
    settings = state.settings
    models = []
    for result in drift.check(session, tenant, settings):
        group = result.group
        note = None
        if group.kind is None:
            note = "decisions made without a model: error drift only"
        elif not result.has_reference:
            note = "the bundle carries no training reference: no input drift (error drift only)"
        elif result.n < settings.drift_window_size:
            note = f"{result.n} of {settings.drift_window_size} decisions in the first window"
        models.append(
            {
                "engine": group.engine,
                "model_id": group.model_id,
                "model_version": group.model_version,
                "has_reference": result.has_reference,
                "n": result.n,
                "features": [
                    {
                        "feature": f.feature,
                        "psi": f.psi,
                        "p_value": f.p_value,
                        "drifted": any(d[1] is f for d in result.drifted),
                    }
                    for f in result.features
                ],
                "note": note,
            }
        )
    return {
        "window_size": settings.drift_window_size,
        "psi_threshold": settings.drift_psi_threshold,
        "p_value": settings.drift_p_value,
        "models": models,
    }
