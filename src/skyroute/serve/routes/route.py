"""``POST /api/v1/ml/route``: function or container, from the tenant's active router bundle."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
from fastapi import APIRouter

from skyroute.serve import model_registry
from skyroute.serve.errors import ApiError
from skyroute.serve.predictors import predictor_for
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import RouteIn, RouteOut

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])
log = logging.getLogger(__name__)

#: Where the router cannot say: functions serve every call (on the shipped data no routing
#: threshold makes containers pay, docs/learn.md), so the safe answer is the function platform.
FALLBACK_PLATFORM = "function"
#: The decision rule of a bundle that names no threshold (``params.threshold``).
DEFAULT_THRESHOLD = 0.5


def decision_threshold(manifest: dict[str, Any]) -> float | None:
    """The bundle's threshold on P(container) (``train router`` sets it in the simulator);
    the default when it names none, None when it names something that is not in (0, 1]."""
    params = manifest.get("params")
    value = params.get("threshold", DEFAULT_THRESHOLD) if isinstance(params, dict) else None
    if value is None:
        return DEFAULT_THRESHOLD
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value <= 1.0:
        return float(value)
    return None


def confidence(p_container: float, threshold: float) -> float:
    """How far P(container) is from the threshold, as a share of the way to 0 or 1."""
    side = 1.0 - threshold if p_container >= threshold else threshold
    return min(abs(p_container - threshold) / side, 1.0) if side > 0 else 1.0


@router.post("/route", response_model=RouteOut)
def route(body: RouteIn, state: StateDep, session: SessionDep, tenant: TenantDep) -> RouteOut:
    """Platform routing with the active ``router.platform`` model (docs/learn.md, features).

    The caller sends the bundle's features by name: the server keeps no per-function history,
    so the window features (calls and gaps before the window, the profile, the prices and
    carbon of the first call's placements) are the caller's to compute. Containers are chosen
    when P(container) reaches the bundle's threshold.

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
    threshold = decision_threshold(row.manifest)
    if reason is None and threshold is None:
        reason = "the bundle's params.threshold is not a number in (0, 1]"
    version_id = f"{model_id}@{version}"
    if reason is not None or threshold is None:
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
        platform="container" if p_container >= threshold else "function",
        p_container=p_container,
        confidence=confidence(p_container, threshold),
        model_version=version_id,
        inference_ms=elapsed,
    )
