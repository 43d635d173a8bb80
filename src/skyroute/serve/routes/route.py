"""``POST /api/v1/ml/route``: function or container, from the tenant's active router bundle."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from fastapi import APIRouter

from skyroute.bundles.router_decision import (
    FALLBACK_PLATFORM,
    confidence,
    decision_threshold,
    platform_for,
    why_not_served,
)
from skyroute.bundles.router_request import RouterRequestError, features_for, in_bundle_order
from skyroute.serve import model_registry
from skyroute.serve.errors import ApiError
from skyroute.serve.predictors import predictor_for
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import RouteIn, RouteOut

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])
log = logging.getLogger(__name__)


@router.post("/route", response_model=RouteOut)
def route(body: RouteIn, state: StateDep, session: SessionDep, tenant: TenantDep) -> RouteOut:
    """Platform routing with the active ``router.platform`` model (docs/learn.md, features).

    The caller sends the bundle's features by name (the server keeps no per-function history,
    so the window features are the caller's to compute), or the raw request -- the seed's
    ``{workload_type, payload_size_kb, time_window, load_pattern, timestamp}`` or a function
    profile -- which ``skyroute.bundles.router_request`` turns into them, as the Lambda
    handler does. Containers are chosen when P(container) reaches the bundle's threshold.

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
    version_id = f"{model_id}@{version}"
    names = list(row.manifest.get("features", []))
    x = _feature_row(body, names)
    start = time.perf_counter()
    traced = {"skyroute.model.kind": "router.platform", "skyroute.model.version": version_id}
    try:
        with state.tracing.span("predict router.platform", traced):
            model = predictor_for(state, row)
            out = np.asarray(model.predict(x), dtype=np.float64).reshape(1, -1)
        p_container, reason = float(out[0, -1]), None
    except Exception as exc:  # a broken bundle must not break routing: flagged fallback
        log.warning("router %s@%s failed: %s", model_id, version, exc)
        state.metrics.model_load_failures.labels("router.platform").inc()
        p_container, reason = math.nan, f"the model failed: {type(exc).__name__}"
    elapsed = (time.perf_counter() - start) * 1000.0
    threshold = decision_threshold(row.manifest)
    reason = reason or why_not_served(p_container, threshold)
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
        platform=platform_for(p_container, threshold),
        p_container=p_container,
        confidence=confidence(p_container, threshold),
        model_version=version_id,
        inference_ms=elapsed,
    )


def _feature_row(body: RouteIn, names: list[str]) -> np.ndarray:
    """The ``(1, n)`` float32 row of the bundle's features, from either request shape."""
    if body.features is None:
        try:
            vector = in_bundle_order(features_for(body.raw_request()), names)
        except RouterRequestError as exc:
            raise ApiError(422, "invalid_request", exc.message, exc.fix) from None
        return vector.reshape(1, -1)
    missing = [n for n in names if n not in body.features]
    if missing:
        raise ApiError(
            422,
            "missing_features",
            f"the router needs features {missing}",
            f"send all of: {', '.join(names)}",
        )
    return np.asarray([[body.features[n] for n in names]], dtype=np.float32)
