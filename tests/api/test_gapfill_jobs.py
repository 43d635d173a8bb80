"""Fill jobs on SQLite and PostgreSQL: idempotent points, exclusive claims, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from skyroute.gapfill import jobs
from skyroute.gapfill.service import FillIn, start_fill
from skyroute.gapfill.store import write_points
from skyroute.gapfill.tables import GapFillChunk, GapFillJob, MarketPointRow
from skyroute.gapfill.worker import Worker
from skyroute.market.points import MarketPoint, SeriesKey
from skyroute.serve.db import make_engine, migrate, session_factory
from skyroute.serve.settings import Settings

#: Chunks end here, not at "now", so two runs of the same request have the same chunks.
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
FILL = FillIn(
    start=date(2026, 9, 1),
    end=date(2026, 10, 31),
    instance_types=["m5.large", "m5.xlarge"],
    regions=["us-east-1", "eu-west-1"],
    source="synthetic",
)


def _sessions(url: str) -> Any:
    engine = make_engine(url)
    migrate(engine)
    return session_factory(engine)


def _queue(sessions: Any, body: FillIn = FILL) -> str:
    with sessions() as session:
        return start_fill(session, Settings(), None, body, until=UNTIL).id


def _rows(sessions: Any) -> list[tuple[Any, ...]]:
    t = MarketPointRow
    columns = (t.data_type, t.provider, t.region, t.instance_type, t.zone, t.at, t.value)
    with sessions() as session:
        rows = session.execute(select(*columns, t.source, t.synthetic)).all()
    return sorted((*r[:5], r[5].replace(tzinfo=None), *r[6:]) for r in rows)


def _job(sessions: Any, job_id: str) -> GapFillJob:
    with sessions() as session:
        job = session.get(GapFillJob, job_id)
        assert job is not None
        return job


def test_writing_the_same_points_twice_changes_nothing(database_url: str) -> None:
    sessions = _sessions(database_url)
    key = SeriesKey("spot_price", "aws", "us-east-1", "m5.large")
    points = [
        MarketPoint(key, datetime(2026, 10, 1, h, tzinfo=UTC), 0.03 + h / 1000, "synthetic", True)
        for h in range(24)
    ]
    with sessions() as session:
        assert write_points(session, points) == 24
        session.commit()
    with sessions() as session:
        assert write_points(session, points[:10] + points) == 0
        session.commit()
        assert session.scalar(select(func.count()).select_from(MarketPointRow)) == 24


def test_two_workers_never_fill_the_same_chunk(database_url: str) -> None:
    sessions = _sessions(database_url)
    job_id = _queue(sessions)
    workers = [Worker(sessions, owner=f"w{i}") for i in range(2)]
    counts: dict[str, int] = {}

    def run(worker: Worker) -> None:
        counts[worker.owner] = worker.run_until_idle()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job = _job(sessions, job_id)
    with sessions() as session:
        chunks = session.scalars(select(GapFillChunk).where(GapFillChunk.job_id == job_id)).all()
        stored = session.scalar(select(func.count()).select_from(MarketPointRow))
    assert job.status == "completed"
    assert all(c.status == "done" and c.attempts == 1 for c in chunks)
    assert sum(counts.values()) == len(chunks) == job.total_chunks
    assert sum(c.records for c in chunks) == job.records_filled == stored
    assert {c.owner for c in chunks} <= {"w0", "w1"}


def _worker_process(url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"GAP_FILLER_LEASE_SECONDS": "1", "SKYROUTE_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "skyroute.cli.main", "gapfill", "worker", "--poll", "0.2", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_job_resumes_to_exactly_the_uninterrupted_rows(
    database_url: str, tmp_path: Path
) -> None:
    reference = _sessions(f"sqlite:///{tmp_path / 'reference.db'}")
    reference_job = _queue(reference)
    Worker(reference).run_until_idle()
    expected = _rows(reference)

    sessions = _sessions(database_url)
    job_id = _queue(sessions)
    total = _job(sessions, job_id).total_chunks
    process = _worker_process(database_url)
    deadline = time.monotonic() + 120
    while _job(sessions, job_id).done_chunks < 20:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = _job(sessions, job_id)
    assert killed.status == "in_progress" and 20 <= killed.done_chunks < total

    time.sleep(1.2)  # the killed worker's lease (1 s) runs out
    restarted = _worker_process(database_url, "--once")
    assert restarted.wait(timeout=180) == 0, restarted.stderr.read() if restarted.stderr else ""

    job = _job(sessions, job_id)
    assert job.status == "completed" and job.done_chunks == total
    assert _rows(sessions) == expected
    assert job.records_filled == _job(reference, reference_job).records_filled == len(expected)


def test_a_cancelled_job_is_not_filled_further(database_url: str) -> None:
    sessions = _sessions(database_url)
    job_id = _queue(sessions)
    worker = Worker(sessions)
    for _ in range(3):
        assert worker.run_once()
    with sessions() as session:
        jobs.cancel_job(session, jobs.get_job(session, None, job_id))
    assert worker.run_until_idle() == 0
    job = _job(sessions, job_id)
    assert job.status == "cancelled" and job.done_chunks == 3


def test_a_model_trained_years_ago_is_brought_to_today_and_the_rest_reported(
    tmp_path: Path,
) -> None:
    sessions = _sessions(f"sqlite:///{tmp_path / 'db.sqlite'}")
    body = FillIn(
        trained_until=date(2019, 7, 15),
        end=date(2026, 10, 31),
        instance_types=["m5.large", "m5.xlarge", "c5.large"],
        regions=["us-east-1"],
        data_types=["spot_price"],
        source="synthetic",
    )
    with sessions() as session:
        job = start_fill(session, Settings(), None, body, until=UNTIL)
        report = jobs.status_of(job)
    assert report["request"]["start"] == "2026-08-03"  # the last 90 days up to 2026-10-31
    assert job.total_chunks == 3 * 90
    assert report["not_filled"] == {
        "start": "2019-07-16",
        "end": "2026-08-02",
        "days": (date(2026, 8, 3) - date(2019, 7, 16)).days,
        "reason": "older than GAP_FILLER_HISTORIC_DAYS_MAX days before the fill's end",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instance_types": ["m5.lage"]}, "did you mean 'm5.large'"),
        ({"regions": ["us-east-9"]}, "unknown region 'us-east-9'"),
        ({"start": date(2026, 1, 1)}, "above the cap of 90"),
        ({"source": "synthetc"}, "did you mean 'synthetic'"),
    ],
)
def test_bad_fill_requests_are_refused_and_queue_nothing(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    from skyroute.errors import SkyRouteError

    sessions = _sessions(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(SkyRouteError, match=message), sessions() as session:
        start_fill(session, Settings(), None, FILL.model_copy(update=change), until=UNTIL)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(GapFillJob)) == 0
