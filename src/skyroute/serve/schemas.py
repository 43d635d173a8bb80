"""Request and response bodies of the API (pydantic models, shown in the OpenAPI docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionProfile(Strict):
    id: str = Field(min_length=1, max_length=200, description="The caller's function id.")
    duration_ms: float = Field(gt=0, le=3_600_000, description="Mean execution time, ms.")
    memory_mb: float = Field(gt=0, le=65_536, description="Memory footprint, MB.")
    payload_kb: float = Field(0.0, ge=0, le=1_000_000, description="Request payload, KB.")
    origin: str = Field(description="Caller's region, e.g. aws:us-east-1.")
    rate_per_min: float = Field(1.0, ge=0, le=1e9, description="Calls per minute.")


class Weights(Strict):
    cost: float = Field(0.4, ge=0)
    latency: float = Field(0.4, ge=0)
    carbon: float = Field(0.2, ge=0)


class ConstraintsIn(Strict):
    providers: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    max_latency_ms: float | None = Field(None, gt=0)
    max_cost: float | None = Field(None, gt=0, description="Max expected USD per invocation.")


class DecideRequest(Strict):
    function: FunctionProfile
    objective: Weights = Field(default_factory=Weights)
    constraints: ConstraintsIn = Field(default_factory=ConstraintsIn)
    caller_key: str | None = Field(
        None, max_length=200, description="Sticky A/B key; defaults to the function id."
    )


class BatchRequest(Strict):
    requests: list[DecideRequest] = Field(min_length=1, max_length=10_000)


class PlacementOut(BaseModel):
    provider: str
    region: str
    memory_mb: int
    platform: str
    purchase: str


class Expected(BaseModel):
    cost_usd: float
    latency_ms: float
    carbon_g: float


class DecisionOut(BaseModel):
    decision_id: str
    placement: PlacementOut
    expected: Expected
    engine: str
    engine_version: str
    model_versions: dict[str, str]
    explanation: str
    fallback: bool
    fallback_reason: str | None = None


class BatchOut(BaseModel):
    decisions: list[DecisionOut]


class TenantIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    tenant_id: str
    api_key: str


class ActivateIn(Strict):
    model_id: str
    version: str


class SplitEntry(Strict):
    version: str
    weight: float = Field(gt=0)


class SplitIn(Strict):
    model_id: str
    versions: list[SplitEntry] = Field(min_length=1, max_length=10)


class ModelRow(BaseModel):
    model_id: str
    name: str
    version: str
    kind: str
    trained_until: str
    uploaded_at: str
    active: bool
    weight: float
    unsafe: bool


class EngineSelectIn(Strict):
    engine_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    purpose: Literal["placement", "spot-optimize"] = Field(
        "placement", description="Placement decisions, or the spot-optimize decision."
    )


class EngineTestIn(Strict):
    request: dict[str, Any]
    config: dict[str, Any] = Field(default_factory=dict)
