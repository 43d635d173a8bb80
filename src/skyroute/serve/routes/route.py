"""``POST /api/v1/ml/route``: function or container, from the tenant's active router bundle."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter
from pydantic import Field

from skyroute.serve import registry
from skyroute.serve.errors import ApiError
from skyroute.serve.predictors import predictor_for
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import Strict

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])


class RouteIn(Strict):
    features: dict[str, float] = Field(description="The router bundle's features, by name.")
    caller_key: str = Field("anonymous", max_length=200)


@router.post("/route")
def route(body: RouteIn, state: StateDep, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Platform routing with the active ``router.platform`` model (docs/learn.md, features)."""
    model_id = registry.active_by_kind(session, tenant).get("router.platform")
    if model_id is None:
        raise ApiError(
            409, "no_model", "no router.platform model is active", "upload and activate one"
        )
    split = registry.current_split(session, tenant, model_id)
    version = registry.pick_version(split, model_id, body.caller_key)
    row = registry.get_version(session, tenant, model_id, version)
    names = list(row.manifest.get("features", []))
    missing = [n for n in names if n not in body.features]
    if missing:
        raise ApiError(
            422,
            "missing_features",
            f"the router needs features {missing}",
            f"send all of: {', '.join(names)}",
        )
    x = np.asarray([[body.features[n] for n in names]], dtype=np.float32)
    start = time.perf_counter()
    out = np.asarray(predictor_for(state, row).predict(x), dtype=np.float64).reshape(1, -1)
    elapsed = (time.perf_counter() - start) * 1000.0
    p_container = float(out[0, -1])
    return {
        "platform": "container" if p_container >= 0.5 else "function",
        "p_container": p_container,
        "confidence": abs(p_container - 0.5) * 2.0,
        "model_version": f"{model_id}@{version}",
        "inference_ms": elapsed,
    }
