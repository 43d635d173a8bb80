"""Market data, gap-fill jobs and chunks, spot predictions/decisions, per-purpose engines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk() -> sa.ForeignKey:
    return sa.ForeignKey("tenants.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "market_points",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("data_type", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("instance_type", sa.String(60), nullable=False),
        sa.Column("zone", sa.String(40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(
            "data_type", "provider", "region", "instance_type", "zone", "at", name="uq_market_point"
        ),
    )
    op.create_index(
        "ix_market_series",
        "market_points",
        ["data_type", "provider", "region", "instance_type", "at"],
    )
    op.create_table(
        "gapfill_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=True, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("total_chunks", sa.Integer(), nullable=False),
        sa.Column("done_chunks", sa.Integer(), nullable=False),
        sa.Column("records_filled", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_table(
        "gapfill_chunks",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("gapfill_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("instance_type", sa.String(60), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("job_id", "seq"),
    )
    op.create_index("ix_gapfill_chunks_claim", "gapfill_chunks", ["status", "lease_until"])
    op.create_table(
        "spot_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("instance_type", sa.String(60), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_spot_records_series",
        "spot_records",
        ["tenant_id", "kind", "instance_type", "region", "at"],
    )
    op.create_table(
        "purpose_engine_selections",
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), primary_key=True),
        sa.Column("purpose", sa.String(40), primary_key=True),
        sa.Column("engine_id", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("selected_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "purpose_engine_selections",
        "spot_records",
        "gapfill_chunks",
        "gapfill_jobs",
        "market_points",
    ):
        op.drop_table(table)
