"""Live predictions: live series, a slot per scheduled prediction, and prediction actuals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_series",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("instance_type", sa.String(60), primary_key=True),
        sa.Column("region", sa.String(40), primary_key=True),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("not_filled", sa.JSON(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_predicted_at", sa.DateTime(timezone=True), nullable=True),
    )
    # NULL for answers asked for; several NULLs never collide (SQLite and PostgreSQL).
    op.add_column("spot_records", sa.Column("slot", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_spot_records_slot",
        "spot_records",
        ["tenant_id", "kind", "instance_type", "region", "slot"],
        unique=True,
    )
    op.create_table(
        "prediction_actuals",
        sa.Column(
            "prediction_id",
            sa.String(36),
            sa.ForeignKey("spot_records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("interrupted", sa.Boolean(), nullable=True),
        sa.Column("price_usd", sa.Float(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_prediction_actuals_tenant_id", "prediction_actuals", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_prediction_actuals_tenant_id", table_name="prediction_actuals")
    op.drop_table("prediction_actuals")
    op.drop_index("uq_spot_records_slot", table_name="spot_records")
    with op.batch_alter_table("spot_records") as batch:
        batch.drop_column("slot")
    op.drop_table("live_series")
