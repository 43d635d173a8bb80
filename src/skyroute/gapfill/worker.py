"""Workers claim chunks, fetch them and commit the points with the chunk in one transaction.

Why a killed worker loses nothing and duplicates nothing:
- a claim is one conditional UPDATE (pending, or running with an expired lease -> running,
  owned by me), so two workers never hold the same chunk;
- a chunk's points, its ``done`` mark and the job's counters commit together; a worker killed
  before that commit leaves no rows of the chunk, and its lease expires so another claims it;
- points have a unique key, so a chunk filled twice (a lease lost mid-fetch) writes its rows
  once and counts only the new ones.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from skyroute.errors import SkyRouteError
from skyroute.gapfill.store import write_points
from skyroute.gapfill.tables import GapFillChunk, GapFillJob
from skyroute.market.points import MarketPoint, SeriesKey, utc
from skyroute.market.sources import MarketSource, make_source

log = logging.getLogger(__name__)

SourceFactory = Callable[[str], MarketSource]


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _LabelledCounter(Protocol):
    def labels(self, *values: str) -> _Counter: ...


class FillMetrics(Protocol):
    """The counters a worker moves; the server's ``Metrics`` has them (Prometheus counters)."""

    @property
    def gapfill_chunks(self) -> _LabelledCounter: ...

    @property
    def gapfill_rows(self) -> _LabelledCounter: ...


def default_sources(aws_region: str = "us-east-1") -> SourceFactory:
    """Sources by name, made once each (the aws one asks the API in ``aws_region`` first)."""
    made: dict[str, MarketSource] = {}

    def get(name: str) -> MarketSource:
        if name not in made:
            made[name] = (
                make_source(name, region=aws_region) if name == "aws" else make_source(name)
            )
        return made[name]

    return get


def _key(chunk: GapFillChunk) -> SeriesKey:
    return SeriesKey(chunk.data_type, chunk.provider, chunk.region, chunk.instance_type)


class Worker:
    """Fills chunks of every in-progress job until there are none left to claim."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sources: SourceFactory | None = None,
        lease_seconds: float = 120.0,
        owner: str | None = None,
        metrics: FillMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.sessions = sessions
        self.sources = sources or default_sources()
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"

    def claim(self) -> GapFillChunk | None:
        """The next chunk, now leased to this worker, or None when nothing is claimable."""
        with self.sessions() as session:
            while True:  # a lost race means another worker took that chunk: look for the next
                moment = datetime.now(UTC)
                claimable = or_(
                    GapFillChunk.status == "pending",
                    (GapFillChunk.status == "running") & (GapFillChunk.lease_until < moment),
                )
                candidate = session.scalar(
                    select(GapFillChunk.id)
                    .join(GapFillJob, GapFillJob.id == GapFillChunk.job_id)
                    .where(GapFillJob.status == "in_progress", claimable)
                    .order_by(GapFillJob.created_at, GapFillChunk.seq)
                    .limit(1)
                )
                if candidate is None:
                    return None
                won = session.execute(
                    update(GapFillChunk)
                    .where(GapFillChunk.id == candidate, claimable)
                    .values(
                        status="running",
                        owner=self.owner,
                        lease_until=moment + self.lease,
                        attempts=GapFillChunk.attempts + 1,
                    )
                )
                session.commit()
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    return session.get(GapFillChunk, candidate)

    def fetch(
        self, chunk: GapFillChunk, request: dict[str, object]
    ) -> tuple[list[MarketPoint], str]:
        """The chunk's points from the job's source, and the name of the source that gave them.

        A series the job's source cannot have (on-demand prices or carbon from ``aws``) comes
        from the labelled synthetic extension. A failing source falls back to it only when
        the job asked for ``fallback``.
        """
        key = _key(chunk)
        start, end = utc(chunk.start), utc(chunk.end)
        primary = self.sources(str(request.get("source", "synthetic")))
        if not primary.covers(key):
            primary = self.sources("synthetic")
        try:
            return primary.fetch(key, start, end), primary.name
        except SkyRouteError:
            if not request.get("fallback") or primary.name == "synthetic":
                raise
            log.warning("%s failed for %s; falling back to synthetic", primary.name, key.label)
            return self.sources("synthetic").fetch(key, start, end), "synthetic"

    def fill(self, chunk: GapFillChunk) -> int:
        """Fetch and commit one claimed chunk; returns the rows it added."""
        with self.sessions() as session:
            job = session.get(GapFillJob, chunk.job_id)
            if job is None:
                return 0
            request = dict(job.request)
        try:
            points, source = self.fetch(chunk, request)
        except SkyRouteError as exc:
            self._fail(chunk, str(exc))
            if self.metrics is not None:
                self.metrics.gapfill_chunks.labels("failed").inc()
            return 0
        with self.sessions() as session:
            added = write_points(session, points)
            moment = datetime.now(UTC)
            mine = session.execute(
                update(GapFillChunk)
                .where(
                    GapFillChunk.id == chunk.id,
                    GapFillChunk.owner == self.owner,
                    GapFillChunk.status == "running",
                )
                .values(status="done", records=added, source=source, lease_until=None)
            )
            if mine.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()  # the lease ran out and another worker took the chunk
                return 0
            session.execute(
                update(GapFillJob)
                .where(GapFillJob.id == chunk.job_id)
                .values(
                    done_chunks=GapFillJob.done_chunks + 1,
                    records_filled=GapFillJob.records_filled + added,
                    updated_at=moment,
                )
            )
            session.execute(
                update(GapFillJob)
                .where(
                    GapFillJob.id == chunk.job_id,
                    GapFillJob.status == "in_progress",
                    GapFillJob.done_chunks >= GapFillJob.total_chunks,
                )
                .values(status="completed", finished_at=moment)
            )
            session.commit()
        if self.metrics is not None:
            self.metrics.gapfill_chunks.labels("done").inc()
            self.metrics.gapfill_rows.labels(source).inc(added)
        return added

    def _fail(self, chunk: GapFillChunk, message: str) -> None:
        moment = datetime.now(UTC)
        with self.sessions() as session:
            session.execute(
                update(GapFillChunk)
                .where(GapFillChunk.id == chunk.id, GapFillChunk.owner == self.owner)
                .values(status="failed", error=message, lease_until=None)
            )
            session.execute(
                update(GapFillJob)
                .where(GapFillJob.id == chunk.job_id, GapFillJob.status == "in_progress")
                .values(
                    status="failed",
                    error=f"{chunk.data_type}/{chunk.region}/{chunk.instance_type} "
                    f"{utc(chunk.start).date()}: {message}",
                    updated_at=moment,
                    finished_at=moment,
                )
            )
            session.commit()

    def run_once(self) -> bool:
        """Fill one chunk if there is one; False when there was nothing to claim."""
        chunk = self.claim()
        if chunk is None:
            return False
        self.fill(chunk)
        return True

    def run_until_idle(self, stop: threading.Event | None = None) -> int:
        """Fill chunks until none is claimable (or ``stop`` is set); returns chunks filled."""
        done = 0
        while not (stop and stop.is_set()) and self.run_once():
            done += 1
        return done


class BackgroundWorker:
    """A worker thread inside the server process, polling for chunks."""

    def __init__(self, worker: Worker, poll_seconds: float = 1.0) -> None:
        self.worker = worker
        self.poll = poll_seconds
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="gap-filler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def nudge(self) -> None:
        """A job was just created: look for chunks now rather than at the next poll."""
        self.wake.set()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.worker.run_until_idle(self.stop)
            except Exception:  # keep the thread alive; the chunk's lease lets it be retried
                log.exception("gap-filler worker error")
            self.wake.wait(self.poll)
            self.wake.clear()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        self.thread.join(timeout=10)
