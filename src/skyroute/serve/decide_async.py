"""The decide pipeline on the event loop: inline when it cannot block, stored by group commit.

:func:`decide_async` gives exactly the answers of :func:`skyroute.serve.decisions.decide`.
Greedy decisions of a tenant whose engine selection is cached are pure computation and run on
the event loop (no threadpool hop, which costs about as much as the decision); anything that
may block (a database read, the sandbox, a model, a big batch) runs in the threadpool. The
rows then go through the process's group-commit writer (``serve/writer.py``), and the answer is
returned only after the transaction that holds them has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from skyroute.serve import idempotency
from skyroute.serve.decisions import Prepared, count, orm_rows, outbox_rows, prepare
from skyroute.serve.engines.registry import DEFAULT_ENGINE
from skyroute.serve.schemas import DecideRequest
from skyroute.serve.state import AppState
from skyroute.serve.tables import Decision, IdempotencyKey, OutboxEvent
from skyroute.serve.writer import Rows, column_values

DECISIONS = cast(Table, Decision.__table__)
IDEMPOTENCY_KEYS = cast(Table, IdempotencyKey.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)

#: Engines cheap and pure enough to run on the event loop (no I/O, no sandbox, no models).
INLINE_ENGINES = frozenset({"greedy"})
#: Larger batches are decided in the threadpool so the event loop keeps answering.
INLINE_ROWS = 64


async def decide_async(
    state: AppState,
    tenant_id: str,
    items: Sequence[DecideRequest],
    idempotency_key: str | None = None,
    *,
    batch: bool = False,
) -> list[dict[str, Any]]:
    """:func:`decide` for the event loop, with the same answers.

    Greedy decisions of a tenant whose selection is cached run inline (pure computation);
    anything that may block (a database read, the sandbox, a model, a big batch) runs in the
    threadpool. The rows go through the process's group-commit writer: the answer is sent only
    after the transaction holding them has committed.
    """
    with state.sessions() as session:
        if _inline(state, tenant_id, items, idempotency_key):
            prepared = prepare(session, state, tenant_id, items, idempotency_key, batch=batch)
        else:
            prepared = await run_in_threadpool(
                prepare, session, state, tenant_id, items, idempotency_key, batch=batch
            )
    if isinstance(prepared, list):
        return prepared
    if state.writer is None:
        answers = await run_in_threadpool(_commit_sync, state, tenant_id, prepared)
        if answers is prepared.responses:  # stored now, not a concurrent retry's answers
            _publish(state, prepared)
        return answers
    try:
        with state.tracing.span("storage.commit", {"skyroute.rows": len(prepared.rows)}):
            await state.writer.write_async(_writes(tenant_id, prepared))
    except IntegrityError:
        keyed = prepared.keyed
        if keyed is None:
            raise
        stored = await run_in_threadpool(_stored_after_conflict, state, tenant_id, keyed)
        if stored is None:
            raise
        return stored  # a concurrent retry with the same key stored first
    count(state, prepared)
    _publish(state, prepared)
    return prepared.responses


def _publish(state: AppState, prepared: Prepared) -> None:
    """The stored decisions to the live streams and the drift monitor (after the commit;
    never waits)."""
    if state.live is not None:
        state.live.publish(prepared.rows)
    if prepared.rows:
        state.notify_drift(str(prepared.rows[0]["tenant_id"]))


def _inline(
    state: AppState, tenant_id: str, items: Sequence[DecideRequest], key: str | None
) -> bool:
    if key is not None or len(items) > INLINE_ROWS or not state.world_build.ready:
        return False
    entry = state.selections.peek(tenant_id)
    if entry is None:
        return False
    selection = entry.selection
    name = selection.engine_id if selection else state.settings.engine_active or DEFAULT_ENGINE
    return name in INLINE_ENGINES


def _commit_sync(state: AppState, tenant_id: str, prepared: Prepared) -> list[dict[str, Any]]:
    with state.sessions() as session:
        stored = idempotency.commit(
            session, tenant_id, orm_rows(prepared), prepared.keyed, outbox_rows(prepared)
        )
    if stored is not None:
        return stored
    count(state, prepared)
    return prepared.responses


def _stored_after_conflict(
    state: AppState, tenant_id: str, keyed: idempotency.Keyed
) -> list[dict[str, Any]] | None:
    with state.sessions() as session:
        return idempotency.stored(session, tenant_id, keyed.key, keyed.fingerprint)


def _writes(tenant_id: str, prepared: Prepared) -> Rows:
    """The rows of ``prepared`` for the writer: the decisions, then the idempotency key."""
    writes: list[tuple[Table, list[dict[str, Any]]]] = [(DECISIONS, prepared.rows)]
    if prepared.events:
        writes.append((OUTBOX, prepared.events))
    if prepared.keyed is not None:
        key = idempotency.key_row(tenant_id, prepared.keyed, [row["id"] for row in prepared.rows])
        writes.append((IDEMPOTENCY_KEYS, [column_values(key)]))
    return writes
