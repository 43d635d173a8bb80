"""Initial schema: tenants, keys, model versions, activations, engines, decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tenant_fk() -> sa.ForeignKey:
    return sa.ForeignKey("tenants.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False, index=True),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("format", sa.String(30), nullable=False),
        sa.Column("trained_until", sa.String(32), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("unsafe", sa.Boolean(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "model_id", "version"),
    )
    op.create_table(
        "activations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_activations_current", "activations", ["tenant_id", "model_id", "ended_at"])
    op.create_table(
        "engines",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("input_schema", sa.JSON(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", "version"),
    )
    op.create_table(
        "engine_selections",
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), primary_key=True),
        sa.Column("engine_id", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("selected_at", TS, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), _tenant_fk(), nullable=False, index=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("function_id", sa.String(200), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
    )
    op.create_index(
        "ix_decisions_function", "decisions", ["tenant_id", "function_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "decisions",
        "engine_selections",
        "engines",
        "activations",
        "model_versions",
        "api_keys",
        "tenants",
    ):
        op.drop_table(table)
