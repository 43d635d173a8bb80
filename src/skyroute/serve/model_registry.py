"""The model registry: uploaded bundles, which versions are active, and A/B splits.

A model is a tenant's name for a series of bundles (``model_id``); each upload is one
``version``. Activation history is kept as rows with ``started_at``/``ended_at``: the rows
without an ``ended_at`` are the current split (one row with weight 1 when a single version is
active). A caller key always lands on the same version of a split (sticky hashing).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from skyroute.serve.auth import now
from skyroute.serve.bundle_contracts import check_observation
from skyroute.serve.errors import ApiError
from skyroute.serve.tables import Activation, ModelVersion


def get_version(session: Session, tenant_id: str, model_id: str, version: str) -> ModelVersion:
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.model_id == model_id,
            ModelVersion.version == version,
        )
    )
    if row is None:
        raise ApiError(
            404,
            "not_found",
            f"model {model_id!r} has no version {version!r}",
            "GET /api/v1/ml/models/list shows what you have",
        )
    return row


def versions_of(session: Session, tenant_id: str, model_id: str) -> list[ModelVersion]:
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.tenant_id == tenant_id, ModelVersion.model_id == model_id)
        .order_by(ModelVersion.uploaded_at)
    ).all()
    if not rows:
        raise ApiError(404, "not_found", f"no model {model_id!r}", "upload it first")
    return list(rows)


def current_split(session: Session, tenant_id: str, model_id: str) -> list[tuple[str, float]]:
    """[(version, weight)] serving ``model_id`` now; empty when nothing is active."""
    rows = session.execute(
        select(Activation.version, Activation.weight)
        .where(
            Activation.tenant_id == tenant_id,
            Activation.model_id == model_id,
            Activation.ended_at.is_(None),
        )
        .order_by(Activation.version)
    ).all()
    return [(str(v), float(w)) for v, w in rows]


def set_split(
    session: Session, tenant_id: str, model_id: str, split: Sequence[tuple[str, float]]
) -> None:
    """Make ``split`` the active versions of ``model_id`` in one transaction.

    Every version must still fit this server: a placement bundle whose observation contract
    differs from what the code builds (say, uploaded before an upgrade) is refused.
    """
    if not split or any(w <= 0 for _, w in split) or len({v for v, _ in split}) != len(split):
        raise ApiError(
            422,
            "invalid_split",
            "a split needs distinct versions with positive weights",
            'e.g. [{"version": "1", "weight": 70}, {"version": "2", "weight": 30}]',
        )
    for version, _ in split:
        row = get_version(session, tenant_id, model_id, version)
        check_observation(row.kind, row.manifest, f"{model_id}@{version}")
    total = sum(w for _, w in split)
    moment = now()
    session.execute(
        update(Activation)
        .where(
            Activation.tenant_id == tenant_id,
            Activation.model_id == model_id,
            Activation.ended_at.is_(None),
        )
        .values(ended_at=moment)
    )
    for version, weight in split:
        session.add(
            Activation(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                model_id=model_id,
                version=version,
                weight=weight / total,
                started_at=moment,
                ended_at=None,
            )
        )
    session.commit()


def history(session: Session, tenant_id: str, model_id: str) -> list[dict[str, object]]:
    rows = session.scalars(
        select(Activation)
        .where(Activation.tenant_id == tenant_id, Activation.model_id == model_id)
        .order_by(Activation.started_at, Activation.version)
    ).all()
    return [
        {
            "version": r.version,
            "weight": r.weight,
            "started_at": r.started_at.isoformat(),
            "ended_at": r.ended_at.isoformat() if r.ended_at else None,
        }
        for r in rows
    ]


def pick_version(split: Sequence[tuple[str, float]], model_id: str, caller_key: str) -> str:
    """The version a caller lands on: a stable hash of (model, caller) into the weights."""
    digest = hashlib.sha256(f"{model_id}\x00{caller_key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64 * sum(w for _, w in split)
    cumulative = 0.0
    for version, weight in split:
        cumulative += weight
        if u < cumulative:
            return version
    return split[-1][0]


def active_by_kind(session: Session, tenant_id: str) -> dict[str, str]:
    """For each bundle kind, the model_id activated most recently that is still active."""
    rows = session.execute(
        select(ModelVersion.kind, Activation.model_id, Activation.started_at)
        .join(
            ModelVersion,
            (ModelVersion.tenant_id == Activation.tenant_id)
            & (ModelVersion.model_id == Activation.model_id)
            & (ModelVersion.version == Activation.version),
        )
        .where(Activation.tenant_id == tenant_id, Activation.ended_at.is_(None))
        .order_by(Activation.started_at)
    ).all()
    return {str(kind): str(model_id) for kind, model_id, _ in rows}


def delete_model(session: Session, tenant_id: str, model_id: str, version: str | None) -> int:
    """Delete all versions of ``model_id`` (or one); files go after the rows are gone."""
    rows = (
        [get_version(session, tenant_id, model_id, version)]
        if version is not None
        else versions_of(session, tenant_id, model_id)
    )
    paths = [Path(r.path) for r in rows]
    versions = [r.version for r in rows]
    session.execute(
        update(Activation)
        .where(
            Activation.tenant_id == tenant_id,
            Activation.model_id == model_id,
            Activation.version.in_(versions),
            Activation.ended_at.is_(None),
        )
        .values(ended_at=now())
    )
    session.execute(delete(ModelVersion).where(ModelVersion.id.in_([r.id for r in rows])))
    session.commit()
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):  # the version's folder, when it is empty now
            path.parent.rmdir()
    return len(rows)


def oldest_active_trained_until(session: Session, kinds: Sequence[str]) -> date | None:
    """The earliest ``trained_until`` among active versions of ``kinds``, over all tenants."""
    values = session.scalars(
        select(ModelVersion.trained_until)
        .join(
            Activation,
            (ModelVersion.tenant_id == Activation.tenant_id)
            & (ModelVersion.model_id == Activation.model_id)
            & (ModelVersion.version == Activation.version),
        )
        .where(Activation.ended_at.is_(None), ModelVersion.kind.in_(list(kinds)))
    ).all()
    days = []
    for value in values:
        try:
            days.append(date.fromisoformat(str(value)[:10]))
        except ValueError:
            continue
    return min(days) if days else None
