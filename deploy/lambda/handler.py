"""AWS Lambda handler of the platform router (API Gateway proxy integration, ``POST /predict``).

Event -> JSON body -> the seed's request (or a function profile) -> the ``router.window/1``
features (``skyroute.bundles.router_request``) -> the container's router bundle
(``router_model``) -> Lambda or container::

    {"prediction": {"platform", "confidence", "lambda_probability", "container_probability"},
     "metrics": {"inference_time_ms", "inference_cost_usd", "timestamp"},
     "request_context": {...the request as validated, "request_id"},
     "model_info": {name, version, kind, format, trained_until, feature_set, threshold, ...},
     "fallback": false}

A body that is not JSON, misses a field or has a wrong type is a 400 ``{error: {code,
message, fix}}`` whose message names the field; a bundle that cannot be used, or a model that
fails or answers no probability, is a 200 with the default platform (``lambda``), ``fallback:
true`` and ``fallback_reason``. No input reaches the runtime as an unhandled exception.

``platform`` speaks the seed's words: ``lambda`` is SkyRoute's ``function`` platform.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import time
from datetime import UTC, datetime
from typing import Any

import router_model

from skyroute.bundles.router_decision import (
    FALLBACK_PLATFORM,
    confidence,
    platform_for,
    why_not_served,
)
from skyroute.bundles.router_request import (
    RouterPrices,
    RouterRequestError,
    features_of,
    parse_request,
    workload_of,
)

log = logging.getLogger("skyroute.lambda")

#: The function's memory (Lambda sets the variable; the SAM template's 512 MB otherwise).
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
DEFAULT_MEMORY_MB = 512
#: Lambda x86's price per GB-second, the shipped catalog's (RouterPrices' default is pinned to
#: it by a test). Requests' own price (0.20 USD per million) is not part of inference cost.
USD_PER_GB_SECOND = RouterPrices().function_usd_per_gb_second
SEED_PLATFORM = {"function": "lambda", "container": "container"}


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """API Gateway proxy event -> proxy response (statusCode, headers, JSON body)."""
    start = time.perf_counter()
    try:
        request = parse_request(_body(event))
    except RouterRequestError as exc:
        log.info("refused: %s", exc)
        return _response(400, {"error": {"code": exc.code, "message": exc.message, "fix": exc.fix}})
    vector = features_of(workload_of(request))
    router = router_model.current()
    p_container, reason = math.nan, router.error
    if reason is None:
        try:
            p_container = router.p_container(vector)
        except Exception as exc:  # a failing model is a flagged fallback, never a 5xx
            log.exception("the router model failed")
            reason = f"the model failed: {type(exc).__name__}: {exc}"
    reason = reason or why_not_served(p_container, router.threshold)
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    body: dict[str, Any] = {
        "prediction": _prediction(p_container, router.threshold, reason),
        "metrics": {
            "inference_time_ms": elapsed_ms,
            "inference_cost_usd": inference_cost_usd(elapsed_ms, memory_mb()),
            "timestamp": datetime.now(UTC).isoformat(),
        },
        "request_context": {
            **request.model_dump(mode="json"),
            "request_id": _request_id(event, context),
        },
        "model_info": router.info,
        "fallback": reason is not None,
    }
    if reason is not None:
        log.warning("fallback answer: %s", reason)
        body["fallback_reason"] = reason
    return _response(200, body)


def _prediction(p: float, threshold: float | None, reason: str | None) -> dict[str, Any]:
    if reason is not None or threshold is None:
        return {
            "platform": SEED_PLATFORM[FALLBACK_PLATFORM],
            "confidence": 0.0,
            "lambda_probability": None,
            "container_probability": None,
        }
    return {
        "platform": SEED_PLATFORM[platform_for(p, threshold)],
        "confidence": confidence(p, threshold),
        "lambda_probability": 1.0 - p,
        "container_probability": p,
    }


def memory_mb() -> int:
    raw = os.environ.get(MEMORY_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MEMORY_MB


def inference_cost_usd(elapsed_ms: float, memory: int) -> float:
    """What the call's duration costs on Lambda: billed per whole millisecond, GB-seconds at
    the function's memory x the catalog's price."""
    billed_s = math.ceil(max(elapsed_ms, 0.0)) / 1000.0
    return billed_s * memory / 1024.0 * USD_PER_GB_SECOND


def _body(event: Any) -> Any:
    """The decoded JSON body of a proxy event (or a direct invocation's event itself)."""
    if not isinstance(event, dict):
        raise RouterRequestError(
            f"the event must be a JSON object, got {type(event).__name__}",
            "invoke through API Gateway or with the request as a JSON object", "body",
        )  # fmt: skip
    if "body" not in event:
        return event  # a direct invocation (``sam local invoke``, the console's test event)
    raw = event["body"]
    if raw is None or raw == "":
        raise RouterRequestError(
            "the request has no body", "POST the request as a JSON object", "body"
        )
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise RouterRequestError(
            f"the body must be JSON text, got {type(raw).__name__}", "send JSON", "body"
        )
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        return json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RouterRequestError(
            f"the body is not JSON: {exc}",
            'send a JSON object such as {"workload_type": "lightweight_api", ...}',
            "body",
        ) from None


def _request_id(event: Any, context: Any) -> str | None:
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    found = ctx.get("requestId") if isinstance(ctx, dict) else None
    return str(found) if found else getattr(context, "aws_request_id", None)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, allow_nan=False),
    }
