"""Request and response bodies of the API (pydantic models, shown in the OpenAPI docs).

Every request model derives from :class:`~skyroute.fields.Strict` and builds its strings
from :data:`~skyroute.fields.Text` (sized to the column it lands in), so bad input is a
422 naming the field on SQLite and PostgreSQL alike (see ``skyroute.fields``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from skyroute.bundles.router_request import (
    MAX_PAYLOAD_KB,
    LoadPattern,
    RouterProfile,
    TimeWindow,
    WorkloadType,
)
from skyroute.fields import JsonObject, Moment, Text, json_problem
from skyroute.fields import Strict as Strict


class FunctionProfile(Strict):
    id: Text = Field(min_length=1, max_length=200, description="The caller's function id.")
    duration_ms: float = Field(gt=0, le=3_600_000, description="Mean execution time, ms.")
    memory_mb: float = Field(gt=0, le=65_536, description="Memory footprint, MB.")
    payload_kb: float = Field(0.0, ge=0, le=1_000_000, description="Request payload, KB.")
    origin: Text = Field(max_length=100, description="Caller's region, e.g. aws:us-east-1.")
    rate_per_min: float = Field(1.0, ge=0, le=1e9, description="Calls per minute.")


class Weights(Strict):
    cost: float = Field(0.4, ge=0, le=1e6)
    latency: float = Field(0.4, ge=0, le=1e6)
    carbon: float = Field(0.2, ge=0, le=1e6)


class ConstraintsIn(Strict):
    """Hard constraints: an answer keeps every one of them or says plainly that it cannot."""

    providers: list[Annotated[Text, Field(max_length=20)]] = Field(
        default_factory=list, max_length=20, description="Allowed providers."
    )
    regions: list[Annotated[Text, Field(max_length=100)]] = Field(
        default_factory=list, max_length=500, description="Allowed regions, e.g. aws:us-east-1."
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
    caller_key: Text | None = Field(
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
    name: Text = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    tenant_id: str
    api_key: str


class ActivateIn(Strict):
    model_id: Text = Field(max_length=100)
    version: Text = Field(max_length=50)


class SplitEntry(Strict):
    version: Text = Field(max_length=50)
    weight: float = Field(gt=0, le=1e9)


class SplitIn(Strict):
    model_id: Text = Field(max_length=100)
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
    engine_id: Text = Field(max_length=100)
    config: JsonObject = Field(default_factory=dict)
    purpose: Literal["placement", "spot-optimize"] = Field(
        "placement", description="Placement decisions, or the spot-optimize decision."
    )


class EngineTestIn(Strict):
    request: JsonObject
    config: JsonObject = Field(default_factory=dict)


# --- models -------------------------------------------------------------------------------


class ModelUploadOut(BaseModel):
    model_id: str
    version: str
    kind: str
    unsafe: bool
    sha256: str


class SplitOut(BaseModel):
    model_id: str
    split: list[tuple[str, float]] = Field(description="[version, weight] now serving.")


class ModelVersionOut(BaseModel):
    version: str
    kind: str
    format: str
    trained_until: str
    uploaded_at: str
    unsafe: bool
    weight: float
    sha256: str
    manifest: dict[str, Any]


class ActivationOut(BaseModel):
    version: str
    weight: float
    started_at: str
    ended_at: str | None


class ModelDetailsOut(BaseModel):
    model_id: str
    versions: list[ModelVersionOut]
    history: list[ActivationOut]


class ModelDeletedOut(BaseModel):
    model_id: str
    deleted_versions: int


# --- engines ------------------------------------------------------------------------------


class EngineUploadOut(BaseModel):
    engine_id: str
    name: str
    version: str


class EngineListed(BaseModel):
    engine_id: str
    name: str
    version: str
    description: str
    builtin: bool
    purpose: str | None = Field(None, description="What a built-in engine decides.")
    selected: bool
    selected_for_spot: bool


class EngineSelectOut(BaseModel):
    engine_id: str
    config: dict[str, Any]
    purpose: str = "placement"


class EngineMetaOut(BaseModel):
    engine_id: str
    name: str
    version: str
    description: str
    builtin: bool
    purpose: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    sha256: str | None = None
    uploaded_at: str | None = None


class EngineTestOut(BaseModel):
    ok: bool
    output: dict[str, Any] | None
    fallback_reason: str | None
    elapsed_ms: float


# --- platform routing ---------------------------------------------------------------------


#: The raw request's fields (``skyroute.bundles.router_request``), validated there.
RAW_ROUTE_FIELDS = (
    "workload_type", "payload_size_kb", "time_window", "load_pattern", "timestamp", "profile",
)  # fmt: skip


class RouteIn(Strict):
    """Either the bundle's ``features`` by name, or the raw request the server derives them
    from: the seed's ``{workload_type, payload_size_kb, time_window, load_pattern, timestamp}``
    or ``{profile, timestamp}`` (docs/deploy-lambda.md, "Request vocabulary")."""

    features: dict[Annotated[Text, Field(max_length=100)], float] | None = Field(
        None, description="The router bundle's features, by name.", max_length=1000
    )
    workload_type: WorkloadType | None = None
    payload_size_kb: float | None = Field(None, ge=0.0, le=MAX_PAYLOAD_KB)
    time_window: TimeWindow | None = None
    load_pattern: LoadPattern | None = None
    timestamp: datetime | None = Field(
        None, description="ISO 8601 (UTC when it names no zone) or epoch seconds."
    )
    profile: RouterProfile | None = None
    caller_key: Text = Field("anonymous", max_length=200)

    @model_validator(mode="after")
    def _one_shape(self) -> RouteIn:
        raw = [name for name in RAW_ROUTE_FIELDS if getattr(self, name) is not None]
        if self.features is not None and raw:
            raise PydanticCustomError(
                "route_shape",
                "send either features or the raw request, not both (got features and {raw})",
                {"raw": ", ".join(raw)},
            )
        if self.features is None and not raw:
            raise PydanticCustomError(
                "route_shape",
                "send features, or workload_type, payload_size_kb, time_window, load_pattern "
                "and timestamp (or profile and timestamp)",
            )
        return self

    def raw_request(self) -> dict[str, Any]:
        """The raw request's fields that were sent, for the feature builder."""
        return {n: getattr(self, n) for n in RAW_ROUTE_FIELDS if getattr(self, n) is not None}


class RouteOut(BaseModel):
    platform: Literal["function", "container"]
    p_container: float | None = Field(
        description="P(container is the better platform); null when the model gave none."
    )
    confidence: float
    model_version: str
    inference_ms: float
    fallback: bool = False
    fallback_reason: str | None = None


# --- spot ---------------------------------------------------------------------------------


class InterruptionIn(Strict):
    instance_type: Text = Field(min_length=1, max_length=60, examples=["m5.large"])
    region: Text = Field(min_length=1, max_length=40, examples=["us-east-1"])
    spot_price: float | None = Field(
        None, gt=0, le=1e6, description="USD/hour (default: latest known)."
    )
    launch_time: Moment | None = Field(None, description="Default: now.")


class InterruptionOut(BaseModel):
    instance_type: str
    region: str
    provider: str
    interruption_probability: float
    horizon_hours: float
    confidence: float
    data_fresh_until: str
    synthetic: bool
    method: str
    model_version: str | None
    spot_price: float
    ondemand_price: float | None
    history_hours: int
    launch_time: str


class Requirements(Strict):
    vcpu: float = Field(gt=0, le=10_000, description="vCPUs each node needs.")
    memory_gib: float = Field(gt=0, le=100_000, description="GiB each node needs.")
    node_count: int = Field(ge=1, le=10_000)


class OptimizeConstraints(Strict):
    regions: list[Annotated[Text, Field(max_length=40)]] = Field(
        default_factory=list, max_length=500
    )
    max_interruption_probability: float = Field(1.0, ge=0, le=1)
    on_demand_floor: float = Field(0.0, ge=0, le=1, description="Share of nodes on demand.")
    max_spot_pools: int = Field(3, ge=1, le=20)


class OptimizeIn(Strict):
    cluster_id: Text = Field(min_length=1, max_length=200)
    requirements: Requirements
    constraints: OptimizeConstraints = Field(default_factory=OptimizeConstraints)


class SpotRecommendation(BaseModel):
    """One pool of the plan (engines may add fields; these are required)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    instance_type: str
    region: str
    count: int = Field(ge=0)


class SpotSavings(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    savings_hourly: float


class SpotPlan(BaseModel):
    """What a spot-optimize engine must answer (checked before it is stored or served)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    recommendations: list[SpotRecommendation]
    estimated_savings: SpotSavings

    @model_validator(mode="before")
    @classmethod
    def _storable_all_through(cls, value: Any) -> Any:
        problem = json_problem(value) if isinstance(value, dict) else None
        if problem:
            raise PydanticCustomError("json_unstorable", problem)
        return value


class SpotPlanOut(SpotPlan):
    engine: str
    fallback: bool
    fallback_reason: str | None
    synthetic: bool
    data_fresh_until: str | None
    decided_at: str


class SpotRecordOut(BaseModel):
    at: str
    instance_type: str
    region: str
    value: float
    payload: dict[str, Any]


# --- gap filler ---------------------------------------------------------------------------


class CoverageOut(BaseModel):
    series: str
    data_type: str
    provider: str
    region: str
    instance_type: str
    hours_expected: int
    hours_present: int
    coverage: float
    fresh_until: str | None
    synthetic: bool


class GapAnalysisOut(BaseModel):
    trained_until: str
    current_date: str
    gap_days: int
    required_data_types: list[str]
    historic_days_max: int
    coverage: list[CoverageOut]


class FillStartedOut(BaseModel):
    status: str
    task_id: str
    chunks: int


class FillStatusOut(BaseModel):
    task_id: str
    status: str
    percent_complete: float
    records_filled: int
    chunks_done: int
    chunks_total: int
    eta_seconds: float | None
    error: str | None
    created_at: str
    finished_at: str | None
    not_filled: dict[str, Any] | None = Field(
        None,
        description="The older part of the model's gap left out by GAP_FILLER_HISTORIC_DAYS_MAX "
        "(start, end inclusive, days, reason); null when the whole gap is filled.",
    )
    request: dict[str, Any]


# --- operations ---------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ready: bool
    reasons: list[str]
