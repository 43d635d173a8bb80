"""Bodies of the monitoring API: actuals, the error and prediction series, live predictions,
drift, and the decision stream's REST companion (pydantic models, shown in the OpenAPI docs).

Split from ``schemas.py`` (the decision, model, engine, spot and gap-filler bodies); the same
rules hold: requests derive from :class:`~skyroute.fields.Strict`, strings are sized
:data:`~skyroute.fields.Text`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from skyroute.fields import Moment, Strict, Text

# --- actuals ------------------------------------------------------------------------------


class ActualIn(Strict):
    """What happened when a decision ran; give at least one observation."""

    decision_id: Text = Field(max_length=36)
    cost_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    latency_ms: float | None = Field(None, ge=0, allow_inf_nan=False)
    cold_start: bool | None = None
    interrupted: bool | None = None
    carbon_g: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Realised carbon, when you measure it."
    )
    observed_at: Moment | None = Field(None, description="When it ran (default: now).")


class PredictionActualIn(Strict):
    """What happened after a spot prediction (a ``prediction_id`` from the predictions
    stream or ``/predictions/series``): ``interrupted`` for interruption predictions,
    ``price_usd`` for price predictions."""

    prediction_id: Text = Field(max_length=36)
    interrupted: bool | None = None
    price_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    observed_at: Moment | None = Field(None, description="When it was observed (default: now).")


class ActualsIn(Strict):
    actuals: list[ActualIn | PredictionActualIn] = Field(min_length=1, max_length=1000)


class ActualsOut(BaseModel):
    stored: int = Field(description="Actuals stored by this call.")
    already: int = Field(description="The same actuals posted before (idempotent, not stored).")


class ArmOut(BaseModel):
    engine: str
    model_versions: str = Field(description="The layers' model@version, or '-' for none.")
    n: int
    mean_expected_cost_usd: float | None
    mean_cost_usd: float | None
    mean_expected_latency_ms: float | None
    mean_latency_ms: float | None
    latency_error_ms: float | None = Field(description="Mean realised minus expected latency.")
    latency_error_ci95_ms: list[float] | None = Field(
        description="95 % confidence interval of that mean (Student's t), when n > 1."
    )
    cold_start_rate: float | None
    interruption_rate: float | None


class ActualsSummaryOut(BaseModel):
    arms: list[ArmOut]


# --- live ---------------------------------------------------------------------------------


class DecisionEventOut(BaseModel):
    """A stored decision as the decision stream sends it."""

    id: str
    tenant_id: str
    created_at: str
    function_id: str
    engine: str
    provider: str
    region: str
    memory_mb: int
    platform: str
    purchase: str
    fallback: bool
    fallback_reason: str | None
    expected: dict[str, Any]
    explanation: str
    worker: str | None


# --- live predictions ---------------------------------------------------------------------


class PredictionRunOut(BaseModel):
    stored: int = Field(description="Predictions stored by this round (two per live series).")
    series: int = Field(description="The tenant's live series.")


class SeriesPointOut(BaseModel):
    prediction_id: str
    at: str = Field(description="When the prediction was made.")
    target_at: str | None = Field(description="The moment it speaks about (at + horizon).")
    predicted: float = Field(description="P(interrupted within 24 h), or USD per hour.")
    confidence: float | None
    actual: float | None = Field(
        description="The posted actual (interrupted as 1.0 / 0.0, or price_usd) or, for a "
        "price without one, the market's observed spot price at target_at."
    )
    actual_source: Literal["posted", "market"] | None
    actual_synthetic: bool | None = Field(
        description="Whether a market actual comes from synthetic data (None: not a market one)."
    )


class PredictionSeriesOut(BaseModel):
    instance_type: str
    region: str
    kind: Literal["interruption", "price"]
    points: list[SeriesPointOut]


class LiveSeriesOut(BaseModel):
    instance_type: str
    region: str
    added_at: str
    last_predicted_at: str | None


class PredictionSeriesListOut(BaseModel):
    series: list[PredictionSeriesOut]
    live_series: list[LiveSeriesOut]


# --- drift and error over time -------------------------------------------------------------


class SeriesBucket(BaseModel):
    start: str = Field(
        description="The bucket's start (UTC, ISO 8601), by the actuals' observed_at."
    )
    engine: str
    model_versions: str = Field(description="The layers' model@version, or '-' for none.")
    n: int
    expected_cost_usd: float | None
    realised_cost_usd: float | None
    expected_latency_ms: float | None
    realised_latency_ms: float | None
    expected_carbon_g: float | None
    realised_carbon_g: float | None = Field(
        description="Null when no actual of it posted carbon_g."
    )
    latency_error_ms: float | None = Field(description="Mean realised minus expected latency.")


class ActualsSeriesOut(BaseModel):
    buckets: list[SeriesBucket]


# --- drift ---------------------------------------------------------------------------------


class DriftAlertOut(BaseModel):
    id: str
    created_at: str
    kind: Literal["input", "error"]
    engine: str
    model_id: str = Field(description="'-' for decisions made without a model.")
    model_version: str
    feature: str
    psi: float | None
    p_value: float
    threshold: float = Field(description="The PSI threshold the feature exceeded.")
    n: int = Field(description="Values in the window (decisions, or actuals for error drift).")
    window_first_at: str
    window_last_at: str
    message: str


class DriftAlertsOut(BaseModel):
    alerts: list[DriftAlertOut]


class FeatureDriftOut(BaseModel):
    feature: str
    psi: float | None
    p_value: float | None
    drifted: bool


class ModelDriftOut(BaseModel):
    engine: str
    model_id: str
    model_version: str
    has_reference: bool = Field(
        description="False: the bundle carries no training reference (no input drift)."
    )
    n: int = Field(description="Decisions in the current input window.")
    features: list[FeatureDriftOut]
    note: str | None = Field(None, description="Why a check is missing, when one is.")


class DriftStatusOut(BaseModel):
    window_size: int
    psi_threshold: float
    p_value: float
    models: list[ModelDriftOut]
