"""The decide pipeline: one path for every engine, from request to stored answer.

1. An ``Idempotency-Key`` seen before returns the stored answer (the same body) or a 422
   ``idempotency_conflict`` (a different body), as the IETF Idempotency-Key draft asks.
2. The batch is built once (:class:`DecisionBatch`): hard constraints are judged there.
3. A row no placement can serve is a 422 ``infeasible`` naming the closest placement and what it
   misses, unless the request asks for ``"on_infeasible": "closest"``.
4. The tenant's engine proposes; every proposal is checked against the row's constraints, and
   greedy answers (flagged ``fallback`` with the reason) only for rows whose proposal is
   missing, failed or breaks a constraint.
5. Every decision is committed before the answer is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from skyroute.serve import idempotency
from skyroute.serve.auth import now
from skyroute.serve.candidates import (
    DecisionBatch,
    ExpectedOut,
    Miss,
    current_hour,
    placement_dict,
)
from skyroute.serve.engines.base import Engine, EngineContext, Proposal
from skyroute.serve.engines.registry import DEFAULT_ENGINE
from skyroute.serve.errors import ApiError
from skyroute.serve.memo import MemoKey
from skyroute.serve.outbox import decision_events
from skyroute.serve.schemas import DecideRequest
from skyroute.serve.selections import Selection
from skyroute.serve.state import AppState
from skyroute.serve.tables import Decision, EngineSelection, OutboxEvent
from skyroute.serve.tracing import Attributes, SpanLike
from skyroute.world.model import World


@dataclass
class Final:
    """What one row of the batch is answered with."""

    placement: int
    explanation: str
    model_versions: dict[str, str] = field(default_factory=dict)
    fallback_reason: str | None = None
    violations: list[Miss] = field(default_factory=list)


class InfeasibleError(ApiError):
    """No placement keeps a request's hard constraints (and it did not ask for the closest)."""

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(
            422,
            "infeasible",
            message,
            'relax the constraints, or send "on_infeasible": "closest" to get the closest '
            "placement flagged with its constraint_violations",
        )
        self.details = details


def selected_engine(
    session: Session, state: AppState, tenant_id: str
) -> tuple[Engine, dict[str, Any], str | None]:
    """(engine, config, why it is not the selected one) the tenant's decisions go through.

    The selection comes from the process's short-lived cache (``serve/selections.py``).
    """
    selection = state.selections.get(tenant_id, lambda: _load_selection(session, tenant_id))
    if selection is None:
        name = state.settings.engine_active or DEFAULT_ENGINE
        return state.engines.get(session, tenant_id, name), {}, None
    try:
        engine = state.engines.get(session, tenant_id, selection.engine_id)
        return engine, dict(selection.config), None
    except ApiError:
        engine = state.engines.get(session, tenant_id, DEFAULT_ENGINE)
        return engine, {}, f"the selected engine {selection.engine_id!r} no longer exists"


def _load_selection(session: Session, tenant_id: str) -> Selection | None:
    row = session.get(EngineSelection, tenant_id)
    return None if row is None else Selection(row.engine_id, dict(row.config))


@dataclass
class Prepared:
    """A decided request or batch waiting to be stored: the answers, the rows, the counts."""

    responses: list[dict[str, Any]]
    #: The ``decisions`` rows as column values (an ORM object costs more than the decision).
    rows: list[dict[str, Any]]
    keyed: idempotency.Keyed | None
    label: str
    finals: list[Final]
    #: The central platform's outbox rows, stored in the same transaction (serve/outbox.py).
    events: list[dict[str, Any]] = field(default_factory=list)


def prepare(
    session: Session,
    state: AppState,
    tenant_id: str,
    items: Sequence[DecideRequest],
    idempotency_key: str | None = None,
    *,
    batch: bool = False,
) -> Prepared | list[dict[str, Any]]:
    """Everything but the commit; a retry's stored answers come back as they are."""
    keyed = None
    if idempotency_key is not None:
        keyed = idempotency.Keyed(idempotency_key, idempotency.fingerprint(items, batch))
        stored = idempotency.stored(session, tenant_id, keyed.key, keyed.fingerprint)
        if stored is not None:
            return stored
    engine, config, missing = selected_engine(session, state, tenant_id)
    attributes: Attributes = {
        "skyroute.engine": engine.info.name,
        "skyroute.engine.version": engine.info.version,
        "skyroute.tenant": tenant_id,
        "skyroute.batch.size": len(items),
    }
    with state.tracing.span("engine.decide", attributes) as span:
        finals, expected = _decide(session, state, tenant_id, items, engine, config, missing, span)
    responses, rows = _responses(items, state.world, finals, expected, engine, tenant_id)
    label = engine.info.name if engine.info.builtin else "uploaded"
    events = decision_events(tenant_id, rows, state.settings)
    return Prepared(responses, rows, keyed, label, finals, events)


def _decide(
    session: Session,
    state: AppState,
    tenant_id: str,
    items: Sequence[DecideRequest],
    engine: Engine,
    config: dict[str, Any],
    missing: str | None,
    span: SpanLike,
) -> tuple[list[Final], list[ExpectedOut]]:
    """The engine's decisions held to the constraints (a memoised one when it may be)."""
    memo_key = _memo_key(engine, missing, items)
    remembered = state.memo.get(memo_key) if memo_key is not None else None
    if remembered is not None:
        final, outcome = remembered
        finals, expected = [replace(final)], [outcome]
    else:
        judged = DecisionBatch.build(items, state.world)
        _refuse_infeasible(judged)
        proposals = propose(engine, judged, session, state, tenant_id, config)
        finals = resolve(judged, proposals, engine)
        expected = judged.expected_for(range(len(finals)), [f.placement for f in finals])
        if memo_key is not None:
            state.memo.put(memo_key, (replace(finals[0]), expected[0]))
    if missing is not None:
        for final in finals:
            final.fallback_reason = final.fallback_reason or missing
    fallbacks = sum(final.fallback_reason is not None for final in finals)
    span.set_attribute("skyroute.memoised", remembered is not None)
    span.set_attribute("skyroute.fallback", fallbacks > 0)
    span.set_attribute("skyroute.fallback.rows", fallbacks)
    return finals, expected


#: Engines whose answer depends only on the request, the hour and the world (memoised).
MEMO_ENGINES = frozenset({"greedy"})


def _memo_key(
    engine: Engine, missing: str | None, items: Sequence[DecideRequest]
) -> MemoKey | None:
    """The memo key of a single greedy request (None: decide it afresh)."""
    if len(items) != 1 or missing is not None or engine.info.name not in MEMO_ENGINES:
        return None
    if not engine.info.builtin:
        return None
    return MemoKey(engine.info.version, current_hour(), items[0].model_dump_json())


def decide(
    session: Session,
    state: AppState,
    tenant_id: str,
    items: Sequence[DecideRequest],
    idempotency_key: str | None = None,
    *,
    batch: bool = False,
) -> list[dict[str, Any]]:
    """Decide, store and return one response per request (the stored ones on a retry)."""
    prepared = prepare(session, state, tenant_id, items, idempotency_key, batch=batch)
    if isinstance(prepared, list):
        return prepared
    stored = idempotency.commit(
        session, tenant_id, orm_rows(prepared), prepared.keyed, outbox_rows(prepared)
    )
    if stored is not None:  # a concurrent retry with the same key stored first
        return stored
    count(state, prepared)
    return prepared.responses


def orm_rows(prepared: Prepared) -> list[Decision]:
    """The decisions as ORM objects (for a session's commit)."""
    return [Decision(**row) for row in prepared.rows]


def outbox_rows(prepared: Prepared) -> list[OutboxEvent]:
    """The decisions' outbox events as ORM objects (none without a central platform)."""
    return [OutboxEvent(**row) for row in prepared.events]


def count(state: AppState, prepared: Prepared) -> None:
    """The stored decisions (and fallbacks) in the metrics."""
    label = prepared.label
    metrics = state.metrics
    for row, final in zip(prepared.rows, prepared.finals, strict=True):
        placement, expected = row["response"]["placement"], row["response"]["expected"]
        where = (label, placement["provider"], placement["region"])
        metrics.decisions.labels(*where).inc()
        metrics.expected_cost.labels(*where).inc(expected["cost_usd"])
        metrics.expected_carbon.labels(*where).inc(expected["carbon_g"])
        if final.fallback_reason is not None:
            metrics.engine_fallbacks.labels(label, reason_class(final.fallback_reason)).inc()


#: Fallback reasons as a fixed label set for /metrics (first match wins).
REASON_CLASSES = (
    ("no placement keeps", "infeasible"),
    ("broke", "constraint"),
    ("timeout", "timeout"),
    ("busy", "busy"),
    ("worker", "worker"),
    ("schema", "schema"),
    ("not a placement", "invalid_answer"),
    ("not offered", "invalid_answer"),
    ("no longer exists", "missing_engine"),
    ("protocol", "protocol"),
    ("engine invalid", "engine_invalid"),
    ("predict", "model"),
    ("cannot be used", "model"),
)


def reason_class(reason: str) -> str:
    """The fixed metric label for a fallback reason (never the free text)."""
    return next((label for needle, label in REASON_CLASSES if needle in reason), "error")


def propose(
    engine: Engine,
    judged: DecisionBatch,
    session: Session,
    state: AppState,
    tenant_id: str,
    config: dict[str, Any],
) -> list[Proposal]:
    """The engine's proposals; an engine that raises makes every row a flagged fallback."""
    ctx = EngineContext(session, state, tenant_id, config)
    try:
        proposals = engine.decide(judged, ctx)
    except ApiError:
        raise
    except Exception as exc:
        reason = f"engine failed ({type(exc).__name__}: {exc})"[:300]
        return [Proposal(None, "", fallback_reason=reason) for _ in judged.items]
    if len(proposals) != len(judged.items):
        reason = f"engine answered {len(proposals)} of {len(judged.items)} requests"
        return [Proposal(None, "", fallback_reason=reason) for _ in judged.items]
    return proposals


def resolve(judged: DecisionBatch, proposals: list[Proposal], engine: Engine) -> list[Final]:
    """Hold every proposal to its row's hard constraints; greedy only where it is needed."""
    name = engine.info.name
    need_greedy = [
        i
        for i, p in enumerate(proposals)
        if not judged.infeasible(i) and (p.placement is None or not judged.keeps(i, p.placement))
    ]
    greedy = judged.greedy(need_greedy)
    finals: list[Final] = []
    for i, proposal in enumerate(proposals):
        versions = proposal.model_versions
        if judged.infeasible(i):
            closest = judged.closest(i)
            misses = judged.misses(i, closest)
            reason = "no placement keeps every hard constraint: " + "; ".join(
                m.describe() for m in misses
            )
            explanation = f"closest placement (asked with on_infeasible=closest); {reason}"
            finals.append(Final(closest, explanation, versions, reason, misses))
            continue
        if i not in greedy:
            assert proposal.placement is not None
            explanation = f"{proposal.explanation}; {judged.checked(i)}"
            finals.append(Final(proposal.placement, explanation, versions))
            continue
        placement, score = greedy[i]
        why = f"greedy: lowest expected objective {score:.3f} (reference placement = 1)"
        if proposal.placement is not None:
            broken = judged.misses(i, proposal.placement)
            reason = f"engine {name}'s answer broke " + "; ".join(m.describe() for m in broken)
        elif proposal.fallback_reason is not None:
            reason = f"engine {name}: {proposal.fallback_reason}"
        else:  # the engine delegates to greedy (no model for a layer): not a failure
            prefix = proposal.explanation + "; " if proposal.explanation else ""
            finals.append(Final(placement, f"{prefix}{why}; {judged.checked(i)}", versions))
            continue
        explanation = f"fallback to greedy ({reason}); {why}; {judged.checked(i)}"
        finals.append(Final(placement, explanation, versions, reason))
    return finals


def _refuse_infeasible(judged: DecisionBatch) -> None:
    """A 422 for rows nothing can serve, unless they asked for the closest placement."""
    refused = [i for i in judged.infeasible_rows() if judged.items[i].on_infeasible != "closest"]
    if not refused:
        return
    details = []
    for i in refused:
        closest = judged.closest(i)
        details.append(
            {
                "request": i,
                "closest": placement_dict(judged.world, closest),
                "misses": [m.__dict__ for m in judged.misses(i, closest)],
            }
        )
    row = refused[0]
    where = "" if len(judged.items) == 1 else f"request {row}: "
    closest = judged.closest(row)
    p = judged.world.describe(closest)
    misses = "; ".join(m.describe() for m in judged.misses(row, closest))
    message = (
        f"{where}no placement keeps every hard constraint; the closest, {p.provider}:{p.region} "
        f"{p.platform} {p.memory_mb} MB {p.purchase}, misses {misses}"
    )
    if len(refused) > 1:
        message += f" ({len(refused)} requests are infeasible)"
    raise InfeasibleError(message, details)


def _responses(
    items: Sequence[DecideRequest],
    world: World,
    finals: list[Final],
    expected: list[ExpectedOut],
    engine: Engine,
    tenant_id: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    responses: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    moment = now()
    for item, final, exp in zip(items, finals, expected, strict=True):
        decision_id = str(uuid.uuid4())
        where = placement_dict(world, final.placement)
        response = {
            "decision_id": decision_id,
            "placement": where,
            "expected": exp.__dict__,
            "engine": engine.info.name,
            "engine_version": engine.info.version,
            "model_versions": final.model_versions,
            "explanation": final.explanation,
            "fallback": final.fallback_reason is not None,
            "fallback_reason": final.fallback_reason,
            "constraint_violations": [m.__dict__ for m in final.violations],
        }
        rows.append(
            {
                "id": decision_id,
                "tenant_id": tenant_id,
                "idempotency_key": None,
                "engine": engine.info.name,
                "model_versions": final.model_versions,
                "fallback": final.fallback_reason is not None,
                "provider": str(where["provider"]),
                "function_id": item.function.id,
                "request": item.model_dump(mode="json"),
                "response": response,
                "created_at": moment,
            }
        )
        responses.append(response)
    return responses, rows
