"""Gap-fill throughput: rows written per second by one worker, on SQLite and PostgreSQL.

Run with ``make bench-gapfill``. Queues a fill of ``--days`` days for 2 instance types x 3
regions x 3 data types from the synthetic source (no network, so this measures the store and
the chunk protocol, not an API), runs one in-process worker to the end, and repeats
``--repeats`` times on a fresh database; prints the median rows/s and chunks/s.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from skyroute.gapfill.service import FillIn, start_fill
from skyroute.gapfill.worker import Worker
from skyroute.serve.db import make_engine, migrate, session_factory
from skyroute.serve.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def one_run(url: str, days: int) -> tuple[float, int, int]:
    """(seconds, rows, chunks) of one fill on a fresh database at ``url``."""
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    until = datetime(2026, 11, 1, tzinfo=UTC)
    body = FillIn(
        start=until.date() - timedelta(days=days),
        end=until.date() - timedelta(days=1),
        instance_types=["m5.large", "m5.xlarge"],
        regions=["us-east-1", "us-west-2", "eu-west-1"],
        source="synthetic",
    )
    with sessions() as session:
        job = start_fill(session, Settings(), None, body, until=until)
    start = time.perf_counter()
    chunks = Worker(sessions).run_until_idle()
    seconds = time.perf_counter() - start
    with sessions() as session:
        from skyroute.gapfill.store import count_points

        rows = count_points(session)
    engine.dispose()
    assert chunks == job.total_chunks
    return seconds, rows, chunks


def pg_database() -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"fill: {args.days} days x 2 instance types x 3 regions x 3 data types, synthetic source")
    for backend in ("sqlite", "postgresql"):
        results = []
        for _ in range(args.repeats):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    results.append(one_run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.days))
            else:
                name, url = pg_database()
                try:
                    results.append(one_run(url, args.days))
                finally:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        rows_s = statistics.median(r / s for s, r, _ in results)
        chunks_s = statistics.median(c / s for s, _, c in results)
        rows = results[0][1]
        print(
            f"{backend:10s} rows {rows:,}  median {rows_s:,.0f} rows/s  {chunks_s:,.0f} chunks/s"
            f"  (runs: {', '.join(f'{s:.2f}s' for s, _, _ in results)})"
        )


if __name__ == "__main__":
    main()
