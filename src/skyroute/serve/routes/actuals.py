"""Actuals: what happened when a decision ran, joined to what the decision expected.

``POST /api/v1/ml/actuals`` stores observations by decision id (and, through
``serve/prediction_actuals.py``, by prediction id), idempotently: the same actual
posted again is counted as ``already`` and stored once; different values for a decision that
already has one are a 409 (an actual is a fact, not a setting). A decision of another tenant is
as unknown as a decision that never existed (404), so ids cannot be probed across tenants.
``GET /api/v1/ml/actuals/summary`` compares realised with expected outcomes per engine and model
versions -- the A/B arms -- with a 95 % confidence interval of the latency error (scipy's
Student's t).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from fastapi import APIRouter
from sqlalchemy import select

from skyroute.serve import prediction_actuals
from skyroute.serve.auth import now
from skyroute.serve.db import commit_or_conflict
from skyroute.serve.errors import ApiError
from skyroute.serve.monitoring_schemas import (
    ActualIn,
    ActualsIn,
    ActualsOut,
    ActualsSummaryOut,
    PredictionActualIn,
)
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.state import AppState
from skyroute.serve.tables import Actual, Decision

router = APIRouter(prefix="/api/v1/ml", tags=["actuals"])
FIELDS = ("cost_usd", "latency_ms", "cold_start", "interrupted", "carbon_g")


@router.post("/actuals", response_model=ActualsOut)
def post_actuals(
    body: ActualIn | PredictionActualIn | ActualsIn,
    session: SessionDep,
    tenant: TenantDep,
    state: StateDep,
) -> Any:
    """Store one actual or a batch (up to 1,000) by decision_id or prediction_id; all or
    nothing."""
    every = body.actuals if isinstance(body, ActualsIn) else [body]
    by_prediction = [item for item in every if isinstance(item, PredictionActualIn)]
    predicted = prediction_actuals.stage(session, tenant, by_prediction, now())
    items = [item for item in every if isinstance(item, ActualIn)]
    for item in items:
        if all(getattr(item, f) is None for f in FIELDS):
            raise ApiError(
                422, "invalid_request", f"the actual of {item.decision_id} observes nothing",
                "give at least one of cost_usd, latency_ms, cold_start, interrupted, carbon_g",
            )  # fmt: skip
    ids = {item.decision_id for item in items}
    if len(ids) != len(items):
        raise ApiError(422, "invalid_request", "a decision appears twice", "post one per decision")
    placements = {
        decision_id: response["placement"]
        for decision_id, response in session.execute(
            select(Decision.id, Decision.response).where(
                Decision.tenant_id == tenant, Decision.id.in_(ids)
            )
        )
    }
    known = set(placements)
    missing = sorted(ids - known)
    if missing:
        raise ApiError(
            404, "not_found", f"no decision {missing[0]!r}" + (f" (and {len(missing) - 1} more)"
            if len(missing) > 1 else ""), "use decision_id values from your /decide answers",
        )  # fmt: skip
    stored_before = {
        a.decision_id: a
        for a in session.scalars(
            select(Actual).where(Actual.tenant_id == tenant, Actual.decision_id.in_(ids))
        )
    }
    moment = now()
    fresh = []
    for item in items:
        before = stored_before.get(item.decision_id)
        if before is None:
            fresh.append(_row(item, tenant, moment))
        elif any(getattr(before, f) != getattr(item, f) for f in FIELDS):
            raise ApiError(
                409, "conflict", f"decision {item.decision_id} already has other actuals",
                "an actual is posted once; post the same values again or none",
            )  # fmt: skip
    session.add_all(fresh)
    commit_or_conflict(
        session, "these actuals were stored by a concurrent request", "post them again"
    )
    if fresh:
        state.notify_drift(tenant)  # error drift: checked off the request path
        _count(state, fresh, placements)
    return {
        "stored": len(fresh) + predicted[0],
        "already": len(items) - len(fresh) + predicted[1],
    }


def _count(state: AppState, fresh: list[Actual], placements: dict[str, Any]) -> None:
    """Realised cost and carbon in /metrics, by the placement the decision chose."""
    metrics = state.metrics
    for actual in fresh:
        where = placements[actual.decision_id]
        labels = (where["provider"], where["region"])
        metrics.actuals.labels(*labels).inc()
        if actual.cost_usd is not None:
            metrics.realised_cost.labels(*labels).inc(actual.cost_usd)
        if actual.carbon_g is not None:
            metrics.realised_carbon.labels(*labels).inc(actual.carbon_g)


def _row(item: ActualIn, tenant: str, moment: datetime) -> Actual:
    return Actual(
        decision_id=item.decision_id,
        tenant_id=tenant,
        **{f: getattr(item, f) for f in FIELDS},
        observed_at=item.observed_at or moment,
        created_at=moment,
    )


@router.get("/actuals/summary", response_model=ActualsSummaryOut)
def summary(session: SessionDep, tenant: TenantDep) -> Any:
    """Realised against expected outcomes, per engine and model versions (the A/B arms)."""
    rows = session.execute(
        select(Decision.engine, Decision.model_versions, Decision.response, Actual)
        .join(Actual, Actual.decision_id == Decision.id)
        .where(Decision.tenant_id == tenant)
    ).all()
    arms: dict[tuple[str, str], list[tuple[dict[str, Any], Actual]]] = defaultdict(list)
    for engine, versions, response, actual in rows:
        label = ",".join(f"{k}={v}" for k, v in sorted((versions or {}).items())) or "-"
        arms[(engine, label)].append((response, actual))
    return {"arms": [_arm(engine, label, pairs) for (engine, label), pairs in sorted(arms.items())]}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _arm(engine: str, label: str, pairs: list[tuple[dict[str, Any], Actual]]) -> dict[str, Any]:
    from scipy import stats

    cost = [(r["expected"]["cost_usd"], a.cost_usd) for r, a in pairs if a.cost_usd is not None]
    latency = [
        (r["expected"]["latency_ms"], a.latency_ms) for r, a in pairs if a.latency_ms is not None
    ]
    errors = [real - expected for expected, real in latency]
    interval = None
    if len(errors) > 1 and np.std(errors) > 0:
        low, high = stats.t.interval(
            0.95, len(errors) - 1, loc=np.mean(errors), scale=stats.sem(errors)
        )
        interval = [float(low), float(high)]
    colds = [a.cold_start for _, a in pairs if a.cold_start is not None]
    interruptions = [a.interrupted for _, a in pairs if a.interrupted is not None]
    return {
        "engine": engine,
        "model_versions": label,
        "n": len(pairs),
        "mean_expected_cost_usd": _mean([e for e, _ in cost]),
        "mean_cost_usd": _mean([r for _, r in cost]),
        "mean_expected_latency_ms": _mean([e for e, _ in latency]),
        "mean_latency_ms": _mean([r for _, r in latency]),
        "latency_error_ms": _mean(errors),
        "latency_error_ci95_ms": interval,
        "cold_start_rate": _mean([float(c) for c in colds]),
        "interruption_rate": _mean([float(i) for i in interruptions]),
    }
