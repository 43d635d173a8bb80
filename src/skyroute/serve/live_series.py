"""Live series: the instance types x regions the server predicts for a tenant on a schedule.

A series becomes live for a tenant when a fill of its spot prices completes: a tenant's own
fill (``POST /gap-filler/fill``) for that tenant; an operator fill (``tenant_id`` None: the
start-up fill of GAP_FILLER_RUN_ON_STARTUP or ``skyroute gapfill fill``) for every tenant with
an active spot model, the models it was run for (``gapfill_registry.fill_on_startup`` starts it
after their oldest ``trained_until``).

The live series are derived from the persisted jobs, not told by the worker that finished
one: a job may be completed by any process (a server's worker, ``skyroute gapfill worker``),
so :func:`adopt_completed_fills` reads completed jobs and inserts what is missing. It is
idempotent and converges when several processes run it at once (inserts skip rows that
exist; each series takes its newest completed job, the same answer in every process).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from skyroute.gapfill.tables import GapFillChunk, GapFillJob
from skyroute.serve.tables import Activation, LiveSeries, ModelVersion

#: Bundle kinds whose active models make an operator fill live for their tenant.
SPOT_KINDS = ("spot.interruption", "spot.price")

SeriesId = tuple[str, str, str]  # (tenant_id, instance_type, region)


def _spot_tenants(session: Session) -> list[str]:
    """Tenants with an active spot model (those an operator fill is for)."""
    return list(
        session.scalars(
            select(ModelVersion.tenant_id)
            .join(
                Activation,
                (ModelVersion.tenant_id == Activation.tenant_id)
                & (ModelVersion.model_id == Activation.model_id)
                & (ModelVersion.version == Activation.version),
            )
            .where(Activation.ended_at.is_(None), ModelVersion.kind.in_(SPOT_KINDS))
            .distinct()
        )
    )


def _newest_fills(session: Session) -> dict[SeriesId, GapFillJob]:
    """Per (tenant, instance type, region): the newest completed fill of its spot prices."""
    filled = session.execute(
        select(GapFillChunk.job_id, GapFillChunk.instance_type, GapFillChunk.region)
        .join(GapFillJob, GapFillJob.id == GapFillChunk.job_id)
        .where(GapFillJob.status == "completed", GapFillChunk.data_type == "spot_price")
        .distinct()
    ).all()
    ids = {job_id for job_id, _, _ in filled}
    jobs = {j.id: j for j in session.scalars(select(GapFillJob).where(GapFillJob.id.in_(ids)))}
    operator_tenants = (
        _spot_tenants(session) if any(j.tenant_id is None for j in jobs.values()) else []
    )
    newest: dict[SeriesId, GapFillJob] = {}
    for job_id, instance_type, region in filled:
        job = jobs[job_id]
        for tenant in [job.tenant_id] if job.tenant_id else operator_tenants:
            key = (tenant, instance_type, region)
            if key not in newest or _order(job) > _order(newest[key]):
                newest[key] = job
    return newest


def _order(job: GapFillJob) -> tuple[str, str]:
    """Newest first by finish time, ties broken by id: the same choice in every process."""
    return (job.finished_at.isoformat() if job.finished_at else "", job.id)


def adopt_completed_fills(session: Session, moment: datetime) -> int:
    """Make every completed fill's series live for its tenant(s); returns how many are new.

    Commits. Existing series move to their newest fill (and its ``not_filled``).
    """
    newest = _newest_fills(session)
    if not newest:
        return 0
    known = {
        (row.tenant_id, row.instance_type, row.region): row.job_id
        for row in session.scalars(select(LiveSeries))
    }
    fresh = [
        {
            "tenant_id": tenant,
            "instance_type": instance_type,
            "region": region,
            "job_id": job.id,
            "not_filled": (job.request or {}).get("not_filled"),
            "added_at": moment,
            "last_predicted_at": None,
        }
        for (tenant, instance_type, region), job in newest.items()
        if (tenant, instance_type, region) not in known
    ]
    added = 0
    if fresh:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(LiveSeries).values(fresh).on_conflict_do_nothing()
        added = len(session.execute(statement.returning(LiveSeries.tenant_id)).all())
    for key, job in newest.items():
        if key in known and known[key] != job.id:
            session.execute(
                update(LiveSeries)
                .where(
                    LiveSeries.tenant_id == key[0],
                    LiveSeries.instance_type == key[1],
                    LiveSeries.region == key[2],
                )
                .values(job_id=job.id, not_filled=(job.request or {}).get("not_filled"))
            )
    session.commit()
    return added


def live_series(
    session: Session,
    tenant_id: str | None = None,
    instance_type: str | None = None,
    region: str | None = None,
) -> Sequence[LiveSeries]:
    """The live series of one tenant (or of all), in a stable order."""
    query = select(LiveSeries).order_by(
        LiveSeries.tenant_id, LiveSeries.instance_type, LiveSeries.region
    )
    if tenant_id is not None:
        query = query.where(LiveSeries.tenant_id == tenant_id)
    if instance_type is not None:
        query = query.where(LiveSeries.instance_type == instance_type)
    if region is not None:
        query = query.where(LiveSeries.region == region)
    return session.scalars(query).all()


def as_dict(row: LiveSeries) -> dict[str, Any]:
    from skyroute.market.points import utc

    last = row.last_predicted_at
    return {
        "instance_type": row.instance_type,
        "region": row.region,
        "added_at": utc(row.added_at).isoformat(),
        "last_predicted_at": utc(last).isoformat() if last is not None else None,
    }
