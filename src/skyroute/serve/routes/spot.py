"""Spot endpoints: interruption probability, the cluster mix decision, and their history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ValidationError
from sqlalchemy import select

from skyroute.serve import spot
from skyroute.serve.engines import builtin_source
from skyroute.serve.errors import ApiError
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import (
    InterruptionIn,
    InterruptionOut,
    OptimizeIn,
    SpotPlan,
    SpotPlanOut,
    SpotRecordOut,
)
from skyroute.serve.tables import Engine, PurposeEngineSelection, SpotRecord

router = APIRouter(prefix="/api/v1/ml", tags=["spot"])

SPOT_PURPOSE = "spot-optimize"


@router.post("/predict/spot-interruption", response_model=InterruptionOut)
def predict_interruption(
    body: InterruptionIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """P(interrupted within 24 h), confidence, data_fresh_until and whether data was synthetic."""
    at = spot.launch_time(body.launch_time)
    answer = spot.interruption_probability(
        session, state, tenant, body.instance_type, body.region, body.spot_price, at
    )
    state.metrics.spot_predictions.labels(answer["method"].split(" ")[0]).inc()
    row = spot.record(
        session, tenant, "prediction", body.instance_type, body.region,
        answer["interruption_probability"], answer,
    )  # fmt: skip
    session.commit()
    spot.publish(state, [row])
    return answer


def _engine(session: SessionDep, tenant: str) -> tuple[str, str, dict[str, Any]]:
    """(engine name, source, config) of the tenant's spot-optimize engine."""
    import skyroute.serve.engines.builtin_spot as builtin

    chosen = session.get(PurposeEngineSelection, (tenant, SPOT_PURPOSE))
    if chosen is None or chosen.engine_id == builtin.NAME:
        config = dict(chosen.config) if chosen else {}
        return builtin.NAME, builtin_source("builtin_spot"), config
    row = session.scalar(
        select(Engine).where(Engine.tenant_id == tenant, Engine.id == chosen.engine_id)
    )
    if row is None:
        raise ApiError(409, "no_engine", "the selected spot engine is gone", "select another")
    return row.name, row.source, dict(chosen.config)


@router.post("/decision/spot-optimize", response_model=SpotPlanOut)
def spot_optimize(
    body: OptimizeIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """A spot/on-demand mix for a cluster that meets every constraint, with its savings.

    The tenant's spot engine (built-in ``spot-optimize`` unless another is selected for the
    purpose ``spot-optimize``) decides in the sandbox; if it fails, the built-in answers and
    the response is flagged ``fallback``.
    """
    import skyroute.serve.engines.builtin_spot as builtin

    at = spot.launch_time(None)
    pool = spot.candidates(session, state, tenant, body.constraints.regions, at)
    request = body.model_dump(mode="json") | {"candidates": pool}
    name, source, config = _engine(session, tenant)
    result = state.sandbox().call(tenant, source, request, config)
    fallback_reason = None
    output = _plan(result.output) if result.ok else None
    if output is None:
        why = result.fallback_reason or "returned nothing"
        if result.ok and result.output is not None:
            why = "its answer is not a spot plan (recommendations, estimated_savings)"
        fallback_reason = f"engine {name}: {why}"
        output = builtin.decide(request, {})
        name = builtin.NAME
    answer = dict(output) | {
        "engine": name,
        "fallback": fallback_reason is not None,
        "fallback_reason": fallback_reason,
        "synthetic": any(c["synthetic"] for c in pool),
        "data_fresh_until": min((c["data_fresh_until"] for c in pool), default=None),
        "decided_at": at.isoformat(),
    }
    savings = answer.get("estimated_savings", {}).get("savings_hourly", 0.0)
    rows = []
    for rec in answer.get("recommendations", []):
        payload = {"cluster_id": body.cluster_id, "recommendation": rec, "savings_hourly": savings}
        kept = spot.record(
            session, tenant, "decision", rec["instance_type"], rec["region"],
            float(rec["count"]), payload,
        )  # fmt: skip
        rows.append(kept)
    session.commit()
    spot.publish(state, rows)
    return answer


def _plan(output: dict[str, Any] | None) -> dict[str, Any] | None:
    """The engine's output when it is a well-formed spot plan, else None (fallback)."""
    if output is None:
        return None
    try:
        SpotPlan.model_validate(output)
    except ValidationError:
        return None
    return output


@router.get("/spot/history", response_model=list[SpotRecordOut])
def spot_history(
    session: SessionDep,
    tenant: TenantDep,
    kind: Literal["prediction", "decision"] = "prediction",
    instance_type: Annotated[str | None, Query(max_length=60)] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """The tenant's stored spot predictions or decisions, oldest first, for plots."""
    query = select(SpotRecord).where(SpotRecord.tenant_id == tenant, SpotRecord.kind == kind)
    if instance_type:
        query = query.where(SpotRecord.instance_type == instance_type)
    if region:
        query = query.where(SpotRecord.region == region)
    rows = session.scalars(query.order_by(SpotRecord.at.desc()).limit(limit)).all()
    return [
        {
            "at": row.at.isoformat(),
            "instance_type": row.instance_type,
            "region": row.region,
            "value": row.value,
            "payload": row.payload,
        }
        for row in reversed(rows)
    ]
