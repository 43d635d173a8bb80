"""``POST /api/v1/ml/route``: function or container, from the tenant's active router bundle."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from fastapi import APIRouter

from skyroute.serve import model_registry
from skyroute.serve.errors import ApiError
from skyroute.serve.predictors import predictor_for
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import RouteIn, RouteOut

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])
log = logging.getLogger(__name__)

#: Where the router cannot say: functions serve every call (containers win only ~7 % of calls
#: on the shipped data, docs/learn.md), so the safe answer is the function platform.
FALLBACK_PLATFORM = "function"


@router.post("/route", response_model=RouteOut)
def route(body: RouteIn, state: StateDep, session: SessionDep, tenant: TenantDep) -> RouteOut:
    """Platform routing with the active ``router.platform`` model (docs/learn.md, features).

    A model that fails or answers something that is not a probability is never served: the
    answer is then the function platform, flagged ``fallback`` with the reason.
    """
    model_id = model_registry.active_by_kind(session, tenant).get("router.platform")
    if model_id is None:
        raise ApiError(
            409, "no_model", "no router.platform model is active", "upload and activate one"
        )
    split = model_registry.current_split(session, tenant, model_id)
    version = model_registry.pick_version(split, model_id, body.caller_key)
    row = model_registry.get_version(session, tenant, model_id, version)
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
    try:
        out = np.asarray(predictor_for(state, row).predict(x), dtype=np.float64).reshape(1, -1)
        p_container, reason = float(out[0, -1]), None
    except Exception as exc:  # a broken bundle must not break routing: flagged fallback
        log.warning("router %s@%s failed: %s", model_id, version, exc)
        state.metrics.model_load_failures.labels("router.platform").inc()
        p_container, reason = math.nan, f"the model failed: {type(exc).__name__}"
    elapsed = (time.perf_counter() - start) * 1000.0
    if reason is None and not 0.0 <= p_container <= 1.0:  # also catches NaN
        reason = f"the model answered {p_container!r}, not a probability in [0, 1]"
    version_id = f"{model_id}@{version}"
    if reason is not None:
        return RouteOut(
            platform=FALLBACK_PLATFORM,
            p_container=None,
            confidence=0.0,
            model_version=version_id,
            inference_ms=elapsed,
            fallback=True,
            fallback_reason=reason,
        )
    return RouteOut(
        platform="container" if p_container >= 0.5 else "function",
        p_container=p_container,
        confidence=abs(p_container - 0.5) * 2.0,
        model_version=version_id,
        inference_ms=elapsed,
    )
