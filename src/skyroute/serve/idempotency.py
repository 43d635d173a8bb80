"""``Idempotency-Key``: a retry gets the stored answer; the same key with another body is a 422.

Keys are matched exactly (a primary key lookup, never ``LIKE``) and stored with a SHA-256 of the
request body, in the same transaction as the decisions they name, so a key is never visible
without its decisions (IETF draft "The Idempotency-Key HTTP Header Field").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from skyroute.serve.auth import now
from skyroute.serve.errors import ApiError
from skyroute.serve.schemas import DecideRequest
from skyroute.serve.tables import Decision, IdempotencyKey


@dataclass(frozen=True)
class Keyed:
    key: str
    fingerprint: str


def fingerprint(items: Sequence[DecideRequest], batch: bool) -> str:
    """SHA-256 of the request body as the server understood it (and of single vs batch)."""
    body = [item.model_dump(mode="json") for item in items]
    text = json.dumps({"batch": batch, "requests": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def stored(
    session: Session, tenant_id: str, key: str, body_fingerprint: str
) -> list[dict[str, Any]] | None:
    """The stored responses for ``key``; None if the key is new; 422 if the body differs."""
    row = session.get(IdempotencyKey, (tenant_id, key))
    if row is None:
        return None
    if row.fingerprint != body_fingerprint:
        raise ApiError(
            422,
            "idempotency_conflict",
            "this Idempotency-Key was used with a different request body",
            "send a new Idempotency-Key for a new request; retry with the exact same body",
        )
    ids = list(row.decision_ids)
    found = {
        d.id: d.response
        for d in session.scalars(
            select(Decision).where(Decision.tenant_id == tenant_id, Decision.id.in_(ids))
        )
    }
    return [dict(found[i]) for i in ids]


def key_row(tenant_id: str, keyed: Keyed, decision_ids: list[str]) -> IdempotencyKey:
    """The stored key: its body's fingerprint and the decisions it made, in order."""
    return IdempotencyKey(
        tenant_id=tenant_id,
        key=keyed.key,
        fingerprint=keyed.fingerprint,
        decision_ids=decision_ids,
        created_at=now(),
    )


def commit(
    session: Session,
    tenant_id: str,
    rows: list[Decision],
    keyed: Keyed | None,
    also: Sequence[Any] = (),
) -> list[dict[str, Any]] | None:
    """Store ``rows`` (and the key, and ``also``: their outbox events) in one transaction.

    Returns None when stored, or the responses a concurrent request with the same key stored
    first.
    """
    session.add_all(rows)
    session.add_all(also)
    if keyed is not None:
        session.add(key_row(tenant_id, keyed, [r.id for r in rows]))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if keyed is None:
            raise
        answer = stored(session, tenant_id, keyed.key, keyed.fingerprint)
        if answer is None:
            raise
        return answer
    return None
