"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from skyroute.serve.routes.deps import StateDep
from skyroute.serve.schemas import HealthOut, ReadyOut
from skyroute.serve.tables import Activation, EngineSelection

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> dict[str, str]:
    """The process is alive (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(state: StateDep) -> JSONResponse:
    """Ready when the database answers and some engine or model is active, else why not."""
    reasons: list[str] = []
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
            selections = session.scalar(select(func.count()).select_from(EngineSelection)) or 0
            active = (
                session.scalar(
                    select(func.count())
                    .select_from(Activation)
                    .where(Activation.ended_at.is_(None))
                )
                or 0
            )
    except Exception as exc:  # any database failure means "not ready", with the reason
        return JSONResponse(
            {"ready": False, "reasons": [f"database unreachable: {type(exc).__name__}"]},
            status_code=503,
        )
    if not state.settings.engine_active and selections == 0 and active == 0:
        reasons.append(
            "no decision engine or model is active: set DECISION_ENGINE_ACTIVE=greedy, "
            "POST /api/v1/ml/engines/select, or activate a model"
        )
    status = 200 if not reasons else 503
    return JSONResponse(
        {"ready": not reasons, "reasons": reasons, "engine": state.settings.engine_active},
        status_code=status,
    )


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
