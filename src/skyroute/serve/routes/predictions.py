"""``/api/v1/ml/predictions``: run a round of live predictions now, and read the series of
predictions against actuals (``serve/live_rounds.py``, ``serve/prediction_series.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from skyroute.fields import Moment
from skyroute.serve import prediction_series
from skyroute.serve.live_rounds import run_round
from skyroute.serve.monitoring_schemas import PredictionRunOut, PredictionSeriesListOut
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep

router = APIRouter(prefix="/api/v1/ml/predictions", tags=["live predictions"])


@router.post("/run", response_model=PredictionRunOut)
def run(state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """Predict every live series of the caller's tenant now (stored and streamed), outside
    the schedule's slots; completed fills are made live first."""
    result = run_round(state, tenant)
    return {"stored": result.stored, "series": result.series}


@router.get("/series", response_model=PredictionSeriesListOut)
def series(
    session: SessionDep,
    tenant: TenantDep,
    instance_type: Annotated[str | None, Query(max_length=60)] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    kind: Literal["interruption", "price"] | None = None,
    since: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """Live predictions against actuals per instance type, region and kind (the newest
    ``limit`` points of each, oldest first), and the tenant's live series."""
    return prediction_series.series(
        session, tenant, instance_type=instance_type, region=region, kind=kind, since=since,
        limit=limit,
    )  # fmt: skip
