"""``/api/v1/ml/autoscale/series``: name a service, post its load, read its recommended replicas.

The recommendation (``serve/autoscale_recommend.py``) is what KEDA's ``metrics-api`` scaler
reads; it is also kept for the ``skyroute_recommended_replicas`` gauge an HPA reads through
prometheus-adapter (docs/deploy.md, "Serving the recommendation").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from skyroute.market.points import utc
from skyroute.serve import autoscale_store
from skyroute.serve.autoscale_recommend import recommend_and_store
from skyroute.serve.autoscale_schemas import (
    LoadIn,
    LoadOut,
    RecommendationOut,
    SeriesDeletedOut,
    SeriesIn,
    SeriesListOut,
    SeriesName,
    SeriesOut,
)
from skyroute.serve.recommendation_gauge import NAME
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.tables import AutoscaleSeries

router = APIRouter(prefix="/api/v1/ml/autoscale", tags=["autoscale"])


def _series_out(row: AutoscaleSeries) -> dict[str, Any]:
    return {
        "name": row.name,
        "capacity_per_replica": row.capacity_per_replica,
        "target": row.target,
        "startup_minutes": row.startup_minutes,
        "lookahead_minutes": row.lookahead_minutes,
        "min_replicas": row.min_replicas,
        "max_replicas": row.max_replicas,
        "created_at": utc(row.created_at).isoformat(),
        "updated_at": utc(row.updated_at).isoformat(),
        "last_replicas": row.last_replicas,
        "metric": {"name": NAME, "labels": {"series_id": row.metric_id}},
    }


@router.put("/series/{name}", response_model=SeriesOut, responses={201: {"model": SeriesOut}})
def put_series(
    name: SeriesName,
    body: SeriesIn,
    response: Response,
    session: SessionDep,
    tenant: TenantDep,
    state: StateDep,
) -> dict[str, Any]:
    """Describe the service behind ``name`` (201 when new, 200 when replaced; load is kept)."""
    row, created = autoscale_store.put_series(
        session, tenant, name, body, state.settings.autoscale_max_series
    )
    response.status_code = 201 if created else 200
    return _series_out(row)


@router.get("/series", response_model=SeriesListOut)
def list_series(session: SessionDep, tenant: TenantDep, state: StateDep) -> dict[str, Any]:
    rows = autoscale_store.list_series(session, tenant)
    return {
        "series": [_series_out(r) for r in rows],
        "limit": state.settings.autoscale_max_series,
    }


@router.get("/series/{name}", response_model=SeriesOut)
def get_series(name: SeriesName, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    return _series_out(autoscale_store.get_series(session, tenant, name))


@router.delete("/series/{name}", response_model=SeriesDeletedOut)
def delete_series(name: SeriesName, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Delete the series and its load; its gauge samples go with it."""
    autoscale_store.delete_series(session, tenant, name)
    return {"series": name, "deleted": True}


@router.post("/series/{name}/load", response_model=LoadOut)
def post_load(
    name: SeriesName, body: LoadIn, session: SessionDep, tenant: TenantDep, state: StateDep
) -> dict[str, Any]:
    """Store per-minute calls (a minute posted again replaces it); answers the new
    recommendation, which the gauge reports from now on."""
    written, pruned = autoscale_store.write_load(session, tenant, name, body.points)
    row = autoscale_store.get_series(session, tenant, name)
    result = recommend_and_store(session, state, row)
    return {"series": name, "stored": written, "pruned": pruned, "recommendation": result.as_dict()}


@router.get("/series/{name}/recommendation", response_model=RecommendationOut)
def recommendation(
    name: SeriesName, session: SessionDep, tenant: TenantDep, state: StateDep
) -> dict[str, object]:
    """Replicas to run now (``replicas``: what KEDA's metrics-api scaler reads)."""
    row = autoscale_store.get_series(session, tenant, name)
    return recommend_and_store(session, state, row).as_dict()
