"""Alembic environment: runs the migrations against the connection the server hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from skyroute.gapfill.tables import GapFillBase
from skyroute.serve.tables import Base

config = context.config
#: The server's tables and the gap filler's (its own package, its own MetaData).
target_metadata = [Base.metadata, GapFillBase.metadata]


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
