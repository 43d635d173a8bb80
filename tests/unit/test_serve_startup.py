"""Start-up work kept off the path to the first ``/healthz``: the world build and migrations."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from skyroute.serve.db import MIGRATIONS, at_head, head_revisions, make_engine, migrate
from skyroute.serve.state import WorldBuild
from skyroute.world.model import World


def test_head_revisions_read_from_files_match_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_migrate_runs_once_and_then_sees_the_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine)
    migrate(engine)  # a no-op now
    engine.dispose()


def test_world_build_is_not_ready_until_built_and_callers_wait_for_it() -> None:
    release = threading.Event()
    world = object.__new__(World)

    def slow() -> World:
        release.wait(10)
        return world

    build = WorldBuild(slow)
    assert not build.ready and build.error is None
    got: list[World] = []
    waiter = threading.Thread(target=lambda: got.append(build.get()))
    waiter.start()
    release.set()
    waiter.join(10)
    assert got == [world] and build.ready


def test_a_failed_world_build_is_reported_and_raised() -> None:
    def broken() -> World:
        raise ValueError("catalog unreadable")

    build = WorldBuild(broken)
    with pytest.raises(ValueError, match="catalog unreadable"):
        build.get()
    assert not build.ready
    assert isinstance(build.error, ValueError)


def test_an_operators_metrics_dir_is_made_and_emptied_even_for_one_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The image sets PROMETHEUS_MULTIPROC_DIR under a fresh tmpfs; prometheus_client writes
    # there whenever it is set, so a missing directory failed the first request of one worker.
    from skyroute.serve.metrics import MULTIPROC_ENV, multiprocess_dir

    given = tmp_path / "tmpfs" / "metrics"
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    assert multiprocess_dir(1) is None and given.is_dir()
    (given / "counter_1.db").write_bytes(b"old run")
    assert multiprocess_dir(2) is None and list(given.iterdir()) == []
