"""The database: one SQLAlchemy engine per app, schema brought to head by Alembic on start."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from skyroute.errors import ConfigError
from skyroute.serve.errors import ApiError

MIGRATIONS = Path(__file__).parent / "migrations"


def _json_serializer() -> Callable[[Any], str]:
    """JSON columns through orjson when it is there (a tenth of ``json.dumps``' time)."""
    try:
        import orjson
    except ImportError:  # the serve extra brings it; the standard library still works
        import json

        return json.dumps
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def dumps(value: Any) -> str:
        return orjson.dumps(value, option=option).decode()

    return dumps


def make_engine(url: str, *, pool_size: int | None = None, pool_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so several workers can share it.

    ``pool_size`` connections at most (the server passes its in-flight bound plus a few for
    the writer and background work, so a request never waits for a connection behind
    requests that admission control would have refused); waiting longer than
    ``pool_timeout_s`` for one raises SQLAlchemy's ``TimeoutError`` (a 503 on the API).
    Without ``pool_size`` (command-line tools) SQLAlchemy's pool grows as it did before.
    """
    pool: dict[str, Any] = {"pool_timeout": pool_timeout_s}
    if pool_size is not None:
        pool.update(pool_size=pool_size, max_overflow=0)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        in_memory = not path or path == ":memory:"  # one connection: no pool to size
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_serializer(),
            **({} if in_memory else pool),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("postgresql+psycopg://"):
        raise ConfigError(
            f"database URL {url.split('://')[0]}://... is not supported",
            "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
        )
    pool = {"pool_size": 10, "max_overflow": 20, **pool}
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_serializer(), **pool)


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*[\"']([^\"']+)[\"']", re.M)


@functools.lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The newest revision(s), read from the migration files (without importing Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for kind, value in _REVISION.findall(path.read_text()):
            (revisions if kind == "revision" else parents).add(value)
    return frozenset(revisions - parents)


def at_head(engine: Engine) -> bool:
    """True when the database's schema is already the newest (the usual restart)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(rows) == head_revisions()
    except DBAPIError:  # no alembic_version table yet: a new database
        return False


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there already).

    Checking the revision first spares the server Alembic's import on every restart.
    """
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def conflict_on_duplicate(session: Session, message: str, fix: str) -> Iterator[None]:
    """Roll back and answer 409 ``conflict`` when the block hits a unique key that exists.

    Two requests creating the same thing at once both pass any "does it exist?" check; the
    database's unique constraint decides, and the loser gets a conflict instead of a 500.
    """
    try:
        yield
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", message, fix) from None


def commit_or_conflict(session: Session, message: str, fix: str) -> None:
    """Commit, or roll back and answer 409 ``conflict`` (see :func:`conflict_on_duplicate`)."""
    with conflict_on_duplicate(session, message, fix):
        session.commit()
