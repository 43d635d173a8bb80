"""``/api/v1/ml/decide``: placement decisions, one or a batch.

Both routes are async: greedy decisions are computed on the event loop, anything that may
block runs in the threadpool, and the rows are committed by the process's group-commit writer
before the answer goes out. The answer is serialised once (orjson) and returned as bytes; the
``response_model`` still documents it. The app state and the tenant are read from the request
rather than through ``Depends``: FastAPI's dependency resolution cost a tenth of a decision.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response

from skyroute.serve.decide_async import decide_async
from skyroute.serve.routes.deps import get_state, get_tenant_fast
from skyroute.serve.schemas import BatchOut, BatchRequest, DecideRequest, DecisionOut

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def json_response(content: Any) -> Response:
    """A JSON answer serialised once, without a second pass through the response model."""
    return Response(orjson.dumps(content), media_type="application/json")


@router.post("/decide", response_model=DecisionOut)
async def decide(
    body: DecideRequest,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Place one function; stored before the answer is sent.

    The answer keeps every hard constraint (providers, regions, expected latency, expected
    cost, memory), or is a 422 ``infeasible`` naming the closest placement, or, with
    ``"on_infeasible": "closest"``, that placement flagged with its ``constraint_violations``.
    """
    state = await get_state(request)
    tenant = await get_tenant_fast(request, state)
    answers = await decide_async(state, tenant, [body], idempotency_key)
    return json_response(answers[0])


@router.post("/decide/batch", response_model=BatchOut)
async def decide_batch(
    body: BatchRequest,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Place many functions in one call (one pass, one commit); constraints as for /decide."""
    state = await get_state(request)
    tenant = await get_tenant_fast(request, state)
    answers = await decide_async(state, tenant, body.requests, idempotency_key, batch=True)
    return json_response({"decisions": answers})
