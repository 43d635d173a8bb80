"""Database tables. Every row that belongs to a user carries its ``tenant_id``.

The schema is created and changed only by the Alembic migrations in ``migrations/``. The gap
filler's tables (market points, fill jobs and chunks) are in :mod:`skyroute.gapfill.tables`.
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
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: sha256 of the key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ModelVersion(Base):
    """One uploaded bundle: a version of the model ``model_id`` (the tenant's name for it)."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "model_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(50))
    format: Mapped[str] = mapped_column(String(30))
    trained_until: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    unsafe: Mapped[bool] = mapped_column(Boolean, default=False)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelArchive(Base):
    """The uploaded zip of a model version: every replica unpacks it from here when its own
    disk lacks the version (replicas do not share ``MODEL_UPLOAD_DIR``)."""

    __tablename__ = "model_archives"

    model_version_id: Mapped[str] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Activation(Base):
    """Which versions of a model serve traffic, with what weight, from when until when."""

    __tablename__ = "activations"
    __table_args__ = (Index("ix_activations_current", "tenant_id", "model_id", "ended_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    model_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    weight: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Engine(Base):
    """An uploaded decision engine (Python source, run only inside the sandbox)."""

    __tablename__ = "engines"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EngineSelection(Base):
    """The engine a tenant's decisions go through (a built-in name or an uploaded engine id)."""

    __tablename__ = "engine_selections"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    engine_id: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    selected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """Every decision, stored before its response is sent."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_decisions_function", "tenant_id", "function_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    engine: Mapped[str] = mapped_column(String(100))
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    fallback: Mapped[bool] = mapped_column(Boolean)
    provider: Mapped[str] = mapped_column(String(10))
    function_id: Mapped[str] = mapped_column(String(200))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Actual(Base):
    """What happened when a decision ran: posted by the caller, joined to what was expected."""

    __tablename__ = "actuals"

    decision_id: Mapped[str] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    cold_start: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    interrupted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: Realised carbon, when the caller measures it (null otherwise: never invented).
    carbon_g: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DriftAlert(Base):
    """A feature (input) or an error of one model version and engine that drifted in one window.

    ``window_index`` numbers a feature's alerted windows (1, then one more each time a whole
    window of decisions, or actuals, came after the last alerted one): the unique constraint
    stores an alert once per window however many workers check it at the same time.
    ``model_id`` and ``model_version`` are "-" for decisions made without a model (error drift
    of an engine alone).
    """

    __tablename__ = "drift_alerts"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "kind", "engine", "model_id", "model_version", "feature", "window_index"
        ),
        Index("ix_drift_alerts_tenant", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(10))  # input | error
    engine: Mapped[str] = mapped_column(String(100))
    model_id: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(50))
    feature: Mapped[str] = mapped_column(String(60))
    window_index: Mapped[int] = mapped_column(Integer)
    psi: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    window_first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text)


class OutboxEvent(Base):
    """An event for the central platform, stored with what it reports (see serve/outbox.py)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The decision's (or alert's) own id: receivers deduplicate on it.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a tenant used: the body it came with and the decisions it made."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    decision_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: The unique key of scheduled live predictions.
SLOT_KEY = ("tenant_id", "kind", "instance_type", "region", "slot")


class SpotRecord(Base):
    """A spot prediction or decision a tenant asked for, kept as a time series for plots.

    Scheduled live predictions carry their ``slot`` (its start, ms since the epoch); the
    unique key lets only one process store a series' prediction for a slot (serve/live_rounds.py).
    """

    __tablename__ = "spot_records"
    __table_args__ = (
        Index("ix_spot_records_series", "tenant_id", "kind", "instance_type", "region", "at"),
        # One scheduled prediction per series and slot (NULL slots, asked for, never collide).
        Index("uq_spot_records_slot", *SLOT_KEY, unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: prediction | decision | live-interruption | live-price
    kind: Mapped[str] = mapped_column(String(20))
    instance_type: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    slot: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)


class LiveSeries(Base):
    """An instance type in a region that the server predicts for a tenant on a schedule.

    Made live by a completed fill of its spot prices (serve/live_series.py); ``job_id`` is the
    newest such fill and ``not_filled`` what that fill left out (copied into predictions).
    """

    __tablename__ = "live_series"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    instance_type: Mapped[str] = mapped_column(String(60), primary_key=True)
    region: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    not_filled: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_predicted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class PredictionActual(Base):
    """What happened after a spot prediction: posted by the caller (serve/prediction_actuals.py)."""

    __tablename__ = "prediction_actuals"

    prediction_id: Mapped[str] = mapped_column(
        ForeignKey("spot_records.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    interrupted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    price_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PurposeEngineSelection(Base):
    """The engine a tenant chose for a purpose other than placement (``spot-optimize``)."""

    __tablename__ = "purpose_engine_selections"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(40), primary_key=True)
    engine_id: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    selected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AutoscaleSeries(Base):
    """A tenant's named service whose replicas the server recommends (serve/autoscale_store.py).

    The ``last_*`` columns hold the newest recommendation computed, which the
    ``skyroute_recommended_replicas`` gauge reports (serve/recommendation_gauge.py).
    """

    __tablename__ = "autoscale_series"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    #: The series' label on /metrics: random, so a scrape names no tenant and no series.
    metric_id: Mapped[str] = mapped_column(String(32), unique=True)
    capacity_per_replica: Mapped[float] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    startup_minutes: Mapped[int] = mapped_column(Integer)
    lookahead_minutes: Mapped[int] = mapped_column(Integer)
    min_replicas: Mapped[int] = mapped_column(Integer)
    max_replicas: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_replicas: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The newest load minute the last recommendation read (None: none posted then).
    last_observed_minute: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_computed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class AutoscaleLoad(Base):
    """Calls in one minute of a series, as the tenant posted it (one row per minute)."""

    __tablename__ = "autoscale_load"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "series"],
            ["autoscale_series.tenant_id", "autoscale_series.name"],
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    series: Mapped[str] = mapped_column(String(63), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    calls: Mapped[float] = mapped_column(Float)
