"""``/api/v1/ml/decide``: placement decisions, one or a batch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from skyroute.serve import decisions
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import BatchOut, BatchRequest, DecideRequest, DecisionOut

router = APIRouter(prefix="/api/v1/ml", tags=["decisions"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post("/decide", response_model=DecisionOut)
def decide(
    body: DecideRequest,
    state: StateDep,
    session: SessionDep,
    tenant: TenantDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Place one function; stored before the answer is sent.

    The answer keeps every hard constraint (providers, regions, expected latency, expected
    cost, memory), or is a 422 ``infeasible`` naming the closest placement, or, with
    ``"on_infeasible": "closest"``, that placement flagged with its ``constraint_violations``.
    """
    return decisions.decide(session, state, tenant, [body], idempotency_key)[0]


@router.post("/decide/batch", response_model=BatchOut)
def decide_batch(
    body: BatchRequest,
    state: StateDep,
    session: SessionDep,
    tenant: TenantDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Place many functions in one call (one pass, one commit); constraints as for /decide."""
    answers = decisions.decide(session, state, tenant, body.requests, idempotency_key, batch=True)
    return {"decisions": answers}
