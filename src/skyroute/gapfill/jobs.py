"""Fill jobs in the database: one row per job, one chunk per series and day.

A job is created whole (job and every chunk in one transaction), so a crash never leaves half
a job. Workers change chunks; the job's counters move in the same transaction as its chunks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from skyroute.errors import UnknownNameError
from skyroute.gapfill.plan import FillRange
from skyroute.gapfill.tables import GapFillChunk, GapFillJob
from skyroute.market.points import SeriesKey, utc

STATUSES = ("in_progress", "completed", "failed", "cancelled")


def create_job(
    session: Session,
    tenant_id: str | None,
    keys: list[SeriesKey],
    days: FillRange,
    request: dict[str, Any],
    until: datetime | None = None,
) -> GapFillJob:
    """Persist a job and its chunks (committed).

    Chunks end at ``until`` (default: now) at the latest, so today's chunk holds the hours so
    far; filling today again later adds only the new hours.
    """
    moment = datetime.now(UTC)
    clip = utc(until) if until is not None else moment
    bounds = [(s, min(e, clip)) for s, e in days.day_bounds() if s < clip]
    job = GapFillJob(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        status="in_progress",
        request=request,
        total_chunks=len(keys) * len(bounds),
        done_chunks=0,
        records_filled=0,
        created_at=moment,
        updated_at=moment,
    )
    session.add(job)
    session.flush()
    seq = 0
    chunks = []
    for start, end in bounds:
        for key in keys:
            chunks.append(
                GapFillChunk(
                    job_id=job.id,
                    seq=seq,
                    data_type=key.data_type,
                    provider=key.provider,
                    region=key.region,
                    instance_type=key.instance_type,
                    start=start,
                    end=end,
                    status="pending",
                    attempts=0,
                    records=0,
                )
            )
            seq += 1
    session.add_all(chunks)
    if not chunks:
        job.status = "completed"
        job.finished_at = moment
    session.commit()
    return job


def get_job(session: Session, tenant_id: str | None, job_id: str) -> GapFillJob:
    job = session.get(GapFillJob, job_id)
    if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
        known = [j.id for j in history(session, tenant_id, limit=20)]
        raise UnknownNameError("gap-fill task", job_id, known)
    return job


def status_of(job: GapFillJob) -> dict[str, Any]:
    """What ``GET /status/{task_id}`` answers: progress, rows written and the time left."""
    total = max(job.total_chunks, 1)
    percent = 100.0 * job.done_chunks / total if job.total_chunks else 100.0
    eta: float | None = None
    if job.status == "in_progress":
        elapsed = (utc(job.updated_at) - utc(job.created_at)).total_seconds()
        if job.done_chunks:
            eta = round(elapsed / job.done_chunks * (job.total_chunks - job.done_chunks), 1)
    elif job.status == "completed":
        eta = 0.0
    return {
        "task_id": job.id,
        "status": job.status,
        "percent_complete": round(percent, 2),
        "records_filled": job.records_filled,
        "chunks_done": job.done_chunks,
        "chunks_total": job.total_chunks,
        "eta_seconds": eta,
        "error": job.error,
        "created_at": utc(job.created_at).isoformat(),
        "finished_at": utc(job.finished_at).isoformat() if job.finished_at else None,
        "not_filled": job.request.get("not_filled"),
        "request": job.request,
    }


def cancel_job(session: Session, job: GapFillJob) -> GapFillJob:
    """Stop a job: chunks not yet claimed are never filled; rows already written stay."""
    session.execute(
        update(GapFillJob)
        .where(GapFillJob.id == job.id, GapFillJob.status == "in_progress")
        .values(status="cancelled", updated_at=datetime.now(UTC), finished_at=datetime.now(UTC))
    )
    session.commit()
    session.refresh(job)
    return job


def history(session: Session, tenant_id: str | None, limit: int = 50) -> list[GapFillJob]:
    query = select(GapFillJob).order_by(GapFillJob.created_at.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(GapFillJob.tenant_id == tenant_id)
    return list(session.scalars(query))
