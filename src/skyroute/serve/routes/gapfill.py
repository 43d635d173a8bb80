"""``/api/v1/ml/gap-filler``: measure a model's data gap, fill it, follow and cancel the job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from skyroute.gapfill import jobs
from skyroute.gapfill.service import AnalyzeIn, FillIn, analyze, start_fill
from skyroute.serve.gapfill_registry import model_trained_until
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import FillStartedOut, FillStatusOut, GapAnalysisOut

router = APIRouter(prefix="/api/v1/ml/gap-filler", tags=["gap filler"])


@router.post("/analyze", response_model=GapAnalysisOut)
def analyze_gap(
    body: AnalyzeIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """trained_until, current_date, gap_days, required_data_types and per-series coverage."""
    return analyze(session, state.settings, tenant, body, models=model_trained_until)


@router.post("/fill", status_code=202, response_model=FillStartedOut)
def fill(body: FillIn, state: StateDep, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Queue a fill job; follow it with ``GET /status/{task_id}``."""
    job = start_fill(session, state.settings, tenant, body, models=model_trained_until)
    state.nudge_gap_filler()
    return {"status": job.status, "task_id": job.id, "chunks": job.total_chunks}


@router.get("/status/{task_id}", response_model=FillStatusOut)
def status(task_id: str, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """status, percent_complete, records_filled and eta_seconds of a fill job."""
    return jobs.status_of(jobs.get_job(session, tenant, task_id))


@router.post("/cancel/{task_id}", response_model=FillStatusOut)
def cancel(task_id: str, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Stop a job; rows already written stay (they are correct data)."""
    job = jobs.cancel_job(session, jobs.get_job(session, tenant, task_id))
    return jobs.status_of(job)


@router.get("/history", response_model=list[FillStatusOut])
def history(
    session: SessionDep, tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The tenant's fill jobs, newest first."""
    return [jobs.status_of(job) for job in jobs.history(session, tenant, limit)]
