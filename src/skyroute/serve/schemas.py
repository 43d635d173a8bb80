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
    """Hard constraints: an answer keeps every one of them or says plainly that it cannot."""

    providers: list[str] = Field(default_factory=list, description="Allowed providers.")
    regions: list[str] = Field(
        default_factory=list, description="Allowed regions, e.g. aws:us-east-1."
    )
    max_latency_ms: float | None = Field(
        None,
        gt=0,
        description=(
            "Upper bound on the EXPECTED latency of one call, ms: network round trip, the "
            "expected cold-start time (its probability times its duration) and execution, "
            "under the world model (not a percentile)."
        ),
    )
    max_cost: float | None = Field(
        None, gt=0, description="Upper bound on the expected USD cost of one call."
    )


class DecideRequest(Strict):
    """One function to place. Its memory footprint is always a hard constraint."""

    function: FunctionProfile
    objective: Weights = Field(default_factory=Weights)
    constraints: ConstraintsIn = Field(default_factory=ConstraintsIn)
    caller_key: str | None = Field(
        None, max_length=200, description="Sticky A/B key; defaults to the function id."
    )
    on_infeasible: Literal["reject", "closest"] = Field(
        "reject",
        description=(
            "When no placement keeps every hard constraint: 'reject' answers 422 infeasible "
            "(naming the closest placement and its misses); 'closest' answers that placement "
            "with fallback true and its constraint_violations."
        ),
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


class ViolationOut(BaseModel):
    constraint: str = Field(description="providers, regions, memory_mb, max_latency_ms, max_cost")
    limit: float | str
    expected: float | str
    miss: float = Field(description="By how much the placement misses (same unit as limit).")


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
    constraint_violations: list[ViolationOut] = Field(default_factory=list)


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
