"""`skyroute db upgrade`: the migration Job's command migrates once and is safe to rerun."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from skyroute.cli.main import app
from skyroute.serve.db import at_head, make_engine

runner = CliRunner()


def test_upgrade_migrates_a_new_database_then_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = make_engine(url)
    assert not at_head(engine)

    first = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "upgraded to the newest schema" in first.output
    assert at_head(engine)

    again = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert again.exit_code == 0, again.output
    assert "already at the newest schema" in again.output
    engine.dispose()


def test_upgrade_of_an_unreachable_database_is_one_clear_line() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "cannot be migrated" in result.output
    assert "to fix: check SKYROUTE_DATABASE_URL" in result.output
