"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from skyroute.serve.engines.registry import DEFAULT_ENGINE
from skyroute.serve.routes.deps import StateDep
from skyroute.serve.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about its dependencies; no threadpool hop)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(state: StateDep) -> JSONResponse:
    """Ready when the database answers and engine workers can be started, else why not.

    Greedy needs nothing more; ``engines`` is the engine sandbox's health, ``streams`` the live
    streams' (``degraded`` when Redis fails: deciding goes on, other workers' events do not).
    """
    reasons: list[str] = []
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not ready", with the reason
        reasons.append(f"database unreachable: {type(exc).__name__}")
    engines = state.sandbox().health()
    if not engines["can_start"]:
        reasons.append(
            f"engine workers cannot be started ({engines['start_error']}): sandboxed engines "
            "would all fall back; run the server as root or allow user namespaces"
        )
    if state.world_build.error is not None:
        reasons.append(f"the world model failed to build: {state.world_build.error}")
    elif not state.world_build.ready:
        reasons.append("the world model is still being built (about a second after start)")
    status = 200 if not reasons else 503
    engine = state.settings.engine_active or DEFAULT_ENGINE
    body = {"ready": not reasons, "reasons": reasons, "engine": engine, "engines": engines}
    if state.live is not None:  # degraded streams never make the server unready
        body["streams"] = state.live.health()
    return JSONResponse(body, status_code=status)


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    content, media_type = state.metrics.render()
    return Response(content, media_type=media_type)
