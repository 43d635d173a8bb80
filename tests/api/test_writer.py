"""Group commit on SQLite and PostgreSQL: shared transactions, isolated conflicts, no lost ack."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, select
from sqlalchemy.exc import IntegrityError

from skyroute.serve import writer as writer_module
from skyroute.serve.db import make_engine
from skyroute.serve.writer import GroupCommitWriter, WriterClosedError

PROBE = Table(
    "writer_probe",
    MetaData(),
    Column("id", String(40), primary_key=True),
    Column("n", Integer),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    PROBE.metadata.create_all(engine)
    yield engine
    engine.dispose()


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(PROBE.c.id)).scalars())


def test_requests_queued_during_a_commit_share_the_next_transaction(engine: Engine) -> None:
    entered, release = threading.Event(), threading.Event()
    first = True

    @event.listens_for(engine, "before_cursor_execute")
    def hold_first(*_: Any) -> None:
        nonlocal first
        if first:
            first = False
            entered.set()
            release.wait(10)

    writer = GroupCommitWriter(engine)
    try:
        futures = [writer.submit([(PROBE, [{"id": "first", "n": 0}])])]
        assert entered.wait(10)
        futures += [writer.submit([(PROBE, [{"id": f"r{i}", "n": i}])]) for i in range(20)]
        release.set()
        for future in futures:
            future.result(10)
    finally:
        writer.close()
    assert writer.commits == 2
    assert stored_ids(engine) == {"first", *(f"r{i}" for i in range(20))}


def test_a_conflicting_request_fails_alone(engine: Engine) -> None:
    writer = GroupCommitWriter(engine)
    try:
        writer.write([(PROBE, [{"id": "taken", "n": 0}])])
        futures = [
            writer.submit([(PROBE, [{"id": "a", "n": 1}, {"id": "b", "n": 1}])]),
            writer.submit([(PROBE, [{"id": "c", "n": 2}, {"id": "taken", "n": 2}])]),
            writer.submit([(PROBE, [{"id": "d", "n": 3}])]),
        ]
        futures[0].result(10)
        futures[2].result(10)
        with pytest.raises(IntegrityError):
            futures[1].result(10)
    finally:
        writer.close()
    # The failed request left nothing behind (not even its first row).
    assert stored_ids(engine) == {"taken", "a", "b", "d"}


def test_close_commits_what_is_queued_and_refuses_more(engine: Engine) -> None:
    writer = GroupCommitWriter(engine)
    futures = [writer.submit([(PROBE, [{"id": f"q{i}", "n": i}])]) for i in range(50)]
    writer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(stored_ids(engine)) == 50
    with pytest.raises(WriterClosedError):
        writer.submit([(PROBE, [{"id": "late", "n": 0}])])


def test_write_async_returns_after_the_commit(engine: Engine) -> None:
    writer = GroupCommitWriter(engine)

    async def both() -> None:
        await asyncio.gather(
            writer.write_async([(PROBE, [{"id": "one", "n": 1}])]),
            writer.write_async([(PROBE, [{"id": "two", "n": 2}])]),
        )
        assert {"one", "two"} <= stored_ids(engine)

    try:
        asyncio.run(both())
    finally:
        writer.close()


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from sqlalchemy import Column, Integer, MetaData, String, Table
    from skyroute.serve.db import make_engine
    from skyroute.serve.writer import GroupCommitWriter

    probe = Table("writer_probe", MetaData(), Column("id", String(40), primary_key=True),
                  Column("n", Integer))
    writer = GroupCommitWriter(make_engine(sys.argv[1]))
    lock = threading.Lock()

    def client(c):
        for i in range(100000):
            key = f"{c}-{i}"
            writer.write([(probe, [{"id": key, "n": i}])])
            with lock:
                sys.stdout.write(key + "\\n")
                sys.stdout.flush()

    for c in range(8):
        threading.Thread(target=client, args=(c,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_nothing_acknowledged_is_lost_when_the_process_is_killed(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, str(script), database_url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    acknowledged: list[str] = []
    try:
        for line in process.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) >= 500:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    acknowledged += [line.strip() for line in process.stdout.read().splitlines() if line.strip()]
    assert len(acknowledged) >= 500
    missing = set(acknowledged) - stored_ids(engine)
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}"


@pytest.mark.parametrize("inline", [False, True], ids=["thread", "inline"])
def test_requests_of_one_loop_iteration_go_to_the_writer_together(
    engine: Engine, inline: bool
) -> None:
    writer = GroupCommitWriter(engine, inline=inline)

    async def many() -> None:
        await asyncio.gather(
            *(writer.write_async([(PROBE, [{"id": f"g{i}", "n": i}])]) for i in range(20))
        )

    try:
        asyncio.run(many())
    finally:
        writer.close()
    assert writer.commits == 1
    assert len(stored_ids(engine)) == 20


@pytest.mark.parametrize("inline", [False, True], ids=["thread", "inline"])
def test_a_conflict_in_a_group_fails_only_its_request(engine: Engine, inline: bool) -> None:
    writer = GroupCommitWriter(engine, inline=inline)
    writer.write([(PROBE, [{"id": "taken", "n": 0}])])

    async def group() -> list[BaseException | None]:
        results = await asyncio.gather(
            writer.write_async([(PROBE, [{"id": "x", "n": 1}])]),
            writer.write_async([(PROBE, [{"id": "taken", "n": 2}])]),
            writer.write_async([(PROBE, [{"id": "y", "n": 3}])]),
            return_exceptions=True,
        )
        return [r if isinstance(r, BaseException) else None for r in results]

    try:
        outcomes = asyncio.run(group())
    finally:
        writer.close()
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert stored_ids(engine) == {"taken", "x", "y"}


def test_sqlite_checkpoints_run_in_the_writer_thread_not_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "CHECKPOINT_EVERY_S", 0.01)
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    PROBE.metadata.create_all(engine)
    threads: list[str] = []
    checkpointed = threading.Event()
    original = GroupCommitWriter._checkpoint

    def spy(self: GroupCommitWriter) -> None:
        threads.append(threading.current_thread().name)
        original(self)
        checkpointed.set()

    monkeypatch.setattr(GroupCommitWriter, "_checkpoint", spy)
    writer = GroupCommitWriter(engine, inline=True)

    async def many() -> None:
        for i in range(50):
            await writer.write_async([(PROBE, [{"id": f"w{i}", "n": i}])])

    try:
        asyncio.run(many())
        held = writer._connection()
        driver = held.connection.driver_connection
        assert driver is not None
        assert driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert checkpointed.wait(10)
    finally:
        writer.close()
        engine.dispose()
    assert set(threads) == {"skyroute-writer"}
