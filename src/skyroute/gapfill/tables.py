"""The gap filler's tables: market points, fill jobs and their chunks.

They live here, not in ``skyroute.serve.tables``, so that the gap filler (used by the server and
by ``skyroute gapfill``) needs nothing of the server. They have their own ``MetaData``; the
server's Alembic environment includes it, and the migrations in ``serve/migrations`` remain the
only place the schema is created or changed. ``gapfill_jobs.tenant_id`` references
``tenants.id`` in the database (migration 0002, ``ON DELETE CASCADE``); the mapping here does
not declare that foreign key, because the ``tenants`` table belongs to the server's metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class GapFillBase(DeclarativeBase):
    pass


#: Autoincrementing 64-bit ids (SQLite autoincrements only an INTEGER primary key).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class MarketPointRow(GapFillBase):
    """One market observation; shared by all tenants (prices and carbon are public facts).

    The unique key makes writing the same point twice a no-op, whichever job writes it.
    """

    __tablename__ = "market_points"
    __table_args__ = (
        UniqueConstraint(
            "data_type", "provider", "region", "instance_type", "zone", "at", name="uq_market_point"
        ),
        Index("ix_market_series", "data_type", "provider", "region", "instance_type", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    data_type: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(10))
    region: Mapped[str] = mapped_column(String(40))
    instance_type: Mapped[str] = mapped_column(String(60))
    zone: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    synthetic: Mapped[bool] = mapped_column(Boolean)


class GapFillJob(GapFillBase):
    """A fill request split into chunks; ``tenant_id`` is None for operator (CLI) jobs."""

    __tablename__ = "gapfill_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    total_chunks: Mapped[int] = mapped_column(Integer)
    done_chunks: Mapped[int] = mapped_column(Integer, default=0)
    records_filled: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class GapFillChunk(GapFillBase):
    """One series over one day of a job: the unit a worker claims, fetches and commits."""

    __tablename__ = "gapfill_chunks"
    __table_args__ = (
        UniqueConstraint("job_id", "seq"),
        Index("ix_gapfill_chunks_claim", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("gapfill_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    data_type: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(10))
    region: Mapped[str] = mapped_column(String(40))
    instance_type: Mapped[str] = mapped_column(String(60))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
