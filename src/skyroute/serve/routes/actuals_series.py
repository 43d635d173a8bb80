"""``GET /api/v1/ml/actuals/series``: realised against expected outcomes over time, per engine
and model versions (``serve/actuals_series.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from skyroute.serve.actuals_series import series
from skyroute.serve.monitoring_schemas import ActualsSeriesOut
from skyroute.serve.routes.deps import SessionDep, TenantDep

router = APIRouter(prefix="/api/v1/ml", tags=["actuals"])


@router.get("/actuals/series", response_model=ActualsSeriesOut)
def actuals_series(
    session: SessionDep,
    tenant: TenantDep,
    bucket_minutes: Annotated[int, Query(ge=1, le=10_080)] = 60,
    engine: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    """Means per time bucket (by the actuals' observed_at), engine and model versions."""
    return {"buckets": series(session, tenant, bucket_minutes, engine or None)}
