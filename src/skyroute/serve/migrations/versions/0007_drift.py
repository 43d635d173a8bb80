"""Drift alerts, and realised carbon on actuals.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("feature", sa.String(60), nullable=False),
        sa.Column("window_index", sa.Integer(), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("window_first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "kind", "engine", "model_id", "model_version", "feature", "window_index"
        ),
    )
    op.create_index("ix_drift_alerts_tenant", "drift_alerts", ["tenant_id", "created_at"])
    with op.batch_alter_table("actuals") as batch:
        batch.add_column(sa.Column("carbon_g", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actuals") as batch:
        batch.drop_column("carbon_g")
    op.drop_index("ix_drift_alerts_tenant", table_name="drift_alerts")
    op.drop_table("drift_alerts")
