"""Autoscale series and their per-minute load (the recommended replicas).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autoscale_series",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("metric_id", sa.String(32), nullable=False, unique=True),
        sa.Column("capacity_per_replica", sa.Float(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("startup_minutes", sa.Integer(), nullable=False),
        sa.Column("lookahead_minutes", sa.Integer(), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_replicas", sa.Integer(), nullable=True),
        sa.Column("last_observed_minute", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_computed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "autoscale_load",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("series", sa.String(63), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("calls", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "series"],
            ["autoscale_series.tenant_id", "autoscale_series.name"],
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("autoscale_load")
    op.drop_table("autoscale_series")
