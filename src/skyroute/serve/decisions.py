"""Making, storing and replaying decisions for a tenant.

The tenant's selected engine (or ``DECISION_ENGINE_ACTIVE``) answers; an answer that is
missing, late or not a valid placement becomes the greedy decision, flagged ``fallback`` with
the reason. Every decision is committed to the database before it is returned, and an
``Idempotency-Key`` returns the stored decision on a retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from skyroute.serve import placement
from skyroute.serve.auth import now
from skyroute.serve.engines import builtin_source
from skyroute.serve.errors import ApiError
from skyroute.serve.schemas import DecideRequest
from skyroute.serve.settings import BUILTIN_ENGINES
from skyroute.serve.state import AppState
from skyroute.serve.tables import Decision, Engine, EngineSelection

ENGINE_VERSION = "1"


def selected_engine(
    session: Session, state: AppState, tenant_id: str
) -> tuple[str, dict[str, Any]]:
    """(engine id, config) the tenant's decisions go through."""
    row = session.get(EngineSelection, tenant_id)
    if row is not None:
        return row.engine_id, dict(row.config)
    if state.settings.engine_active:
        return state.settings.engine_active, {}
    raise ApiError(
        409,
        "no_engine",
        "no decision engine is active for this tenant",
        "POST /api/v1/ml/engines/select with engine_id 'greedy' (or set DECISION_ENGINE_ACTIVE)",
    )


def _run_engine(
    session: Session,
    state: AppState,
    tenant_id: str,
    engine_id: str,
    config: dict[str, Any],
    items: Sequence[DecideRequest],
) -> tuple[str, str, list[placement.Answer]]:
    """(engine name, version, answers); failures inside come back as fallback answers."""
    world = state.world
    if engine_id == "greedy":
        return "greedy", ENGINE_VERSION, placement.greedy(items, world)
    if engine_id == "hierarchical":
        from skyroute.serve.hierarchical import hierarchical

        return "hierarchical", ENGINE_VERSION, hierarchical(session, state, tenant_id, items)
    if engine_id == "rules":
        import skyroute.serve.engines.builtin_rules as builtin_rules

        source = builtin_source("builtin_rules")
        return "rules", builtin_rules.VERSION, _sandboxed(state, source, "rules", config, items)
    engine = session.scalar(
        select(Engine).where(Engine.tenant_id == tenant_id, Engine.id == engine_id)
    )
    if engine is None:
        raise ApiError(404, "not_found", f"no engine {engine_id!r}", "GET /api/v1/ml/engines/list")
    return engine.name, engine.version, _sandboxed(state, engine.source, engine.name, config, items)


def _sandboxed(
    state: AppState,
    source: str,
    name: str,
    config: dict[str, Any],
    items: Sequence[DecideRequest],
) -> list[placement.Answer]:
    """Run an engine in the sandbox per request; anything wrong becomes greedy + fallback."""
    answers: list[placement.Answer] = []
    fallbacks = placement.greedy(items, state.world)
    pool = state.pool()
    for item, fallback in zip(items, fallbacks, strict=True):
        result = pool.call(source, item.model_dump(mode="json"), config)
        reason = result.fallback_reason
        if result.ok and result.output is not None:
            try:
                index = placement.placement_index(state.world, result.output)
                explanation = str(result.output.get("explanation", f"engine {name}"))
                answers.append(placement.Answer(index, explanation))
                continue
            except ValueError as exc:
                reason = str(exc)
        reason = reason or "engine returned nothing"
        state.metrics.engine_fallbacks.labels(name, reason.split(":")[0][:40]).inc()
        fallback.fallback_reason = f"engine {name}: {reason}"
        fallback.explanation = f"fallback to greedy ({fallback.fallback_reason})"
        answers.append(fallback)
    return answers


def decide(
    session: Session,
    state: AppState,
    tenant_id: str,
    items: Sequence[DecideRequest],
    idempotency_key: str | None = None,
) -> list[dict[str, Any]]:
    """Decide, store and return one response per request (the stored ones on a retry)."""
    if idempotency_key is not None:
        stored = _stored(session, tenant_id, idempotency_key)
        if stored is not None:
            return stored
    engine_id, config = selected_engine(session, state, tenant_id)
    name, version, answers = _run_engine(session, state, tenant_id, engine_id, config, items)
    expected = placement.expected_dicts(items, [a.placement for a in answers], state.world)
    responses: list[dict[str, Any]] = []
    rows: list[Decision] = []
    moment = now()
    for i, (item, answer) in enumerate(zip(items, answers, strict=True)):
        decision_id = str(uuid.uuid4())
        where = placement.placement_dict(state.world, answer.placement)
        response = {
            "decision_id": decision_id,
            "placement": where,
            "expected": expected[i],
            "engine": name,
            "engine_version": version,
            "model_versions": answer.model_versions,
            "explanation": answer.explanation,
            "fallback": answer.fallback_reason is not None,
            "fallback_reason": answer.fallback_reason,
        }
        key = None
        if idempotency_key is not None:
            key = idempotency_key if len(items) == 1 else f"{idempotency_key}#{i}"
        rows.append(
            Decision(
                id=decision_id,
                tenant_id=tenant_id,
                idempotency_key=key,
                engine=name,
                model_versions=answer.model_versions,
                fallback=answer.fallback_reason is not None,
                provider=str(where["provider"]),
                function_id=item.function.id,
                request=item.model_dump(mode="json"),
                response=response,
                created_at=moment,
            )
        )
        responses.append(response)
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent retry with the same key stored first: answer with its decisions.
        session.rollback()
        if idempotency_key is None:
            raise
        stored = _stored(session, tenant_id, idempotency_key)
        if stored is None:
            raise
        return stored
    for row in rows:
        state.metrics.decisions.labels(name, row.provider).inc()
    return responses


def _stored(session: Session, tenant_id: str, key: str) -> list[dict[str, Any]] | None:
    rows = session.scalars(
        select(Decision)
        .where(
            Decision.tenant_id == tenant_id,
            (Decision.idempotency_key == key) | Decision.idempotency_key.like(f"{key}#%"),
        )
        .order_by(Decision.created_at)
    ).all()
    if not rows:
        return None
    if len(rows) > 1:
        rows = sorted(rows, key=lambda r: int((r.idempotency_key or "#0").rsplit("#", 1)[-1]))
    return [dict(r.response) for r in rows]


__all__ = ["BUILTIN_ENGINES", "decide", "selected_engine"]
