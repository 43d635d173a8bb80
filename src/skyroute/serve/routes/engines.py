"""``/api/v1/ml/engines``: upload, list, select, inspect and test decision engines.

Uploaded engines are inspected and run only inside the sandbox (``skyroute.serve.engines``);
their source is stored in the database, never imported by the server.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from sqlalchemy import select

from skyroute.fields import json_problem
from skyroute.serve.auth import now
from skyroute.serve.db import commit_or_conflict
from skyroute.serve.engines.contract import EngineMeta
from skyroute.serve.errors import ApiError
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import (
    EngineListed,
    EngineMetaOut,
    EngineSelectIn,
    EngineSelectOut,
    EngineTestIn,
    EngineTestOut,
    EngineUploadOut,
)
from skyroute.serve.settings import BUILTIN_ENGINES
from skyroute.serve.tables import Engine, EngineSelection, PurposeEngineSelection

router = APIRouter(prefix="/api/v1/ml/engines", tags=["engines"])

MAX_SOURCE_BYTES = 256 * 1024

BUILTIN_DESCRIPTIONS = {
    "greedy": "The world model's weighted-greedy placement (lowest expected objective).",
    "hierarchical": "Strategic → tactical → operational bundles; greedy where a layer is missing.",
    "rules": "A small rule-based example engine, run in the sandbox like uploaded engines.",
    "spot-optimize": "Spot/on-demand cluster mix (purpose spot-optimize), run in the sandbox.",
}
SPOT_ENGINES = ("spot-optimize",)


def _builtin(engine_id: str) -> dict[str, Any]:
    return {
        "engine_id": engine_id,
        "name": engine_id,
        "version": "1",
        "description": BUILTIN_DESCRIPTIONS[engine_id],
        "builtin": True,
    }


def _row(session: SessionDep, tenant: str, engine_id: str) -> Engine:
    row = session.scalar(select(Engine).where(Engine.tenant_id == tenant, Engine.id == engine_id))
    if row is None:
        raise ApiError(404, "not_found", f"no engine {engine_id!r}", "GET /api/v1/ml/engines/list")
    return row


def _check_storable(meta: EngineMeta) -> None:
    """Refuse declarations the engines table cannot hold (sizes, NUL bytes, NaN in schemas)."""
    for field, value, longest in (
        ("NAME", meta.name, 100),
        ("VERSION", meta.version, 50),
        ("DESCRIPTION", meta.description, 10_000),
    ):
        if len(value) > longest or "\x00" in value:
            raise ApiError(
                422,
                "engine_invalid",
                f"{field} is longer than {longest} characters or contains a NUL byte",
                f"shorten {field}",
            )
    for field, schema in (
        ("INPUT_SCHEMA", meta.input_schema),
        ("OUTPUT_SCHEMA", meta.output_schema),
    ):
        problem = json_problem(schema)
        if problem:
            raise ApiError(422, "engine_invalid", f"{field}: {problem}", "declare plain JSON")


@router.post("/upload", status_code=201, response_model=EngineUploadOut)
def upload(
    state: StateDep, session: SessionDep, tenant: TenantDep, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """Upload a Python module declaring NAME, VERSION, DESCRIPTION, schemas and ``decide``."""
    raw = file.file.read(MAX_SOURCE_BYTES + 1)
    if len(raw) > MAX_SOURCE_BYTES:
        raise ApiError(413, "too_large", "engine module above 256 KB", "ship a smaller module")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            422, "engine_invalid", "the engine module is not UTF-8 text", "save it as UTF-8"
        ) from None
    if "\x00" in source:
        raise ApiError(422, "engine_invalid", "the engine module contains a NUL byte", "")
    meta = state.pool().inspect(source)
    _check_storable(meta)
    row = Engine(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        name=meta.name,
        version=meta.version,
        description=meta.description,
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        input_schema=meta.input_schema,
        output_schema=meta.output_schema,
        uploaded_at=now(),
    )
    session.add(row)
    commit_or_conflict(session, f"engine {meta.name} {meta.version} exists", "bump VERSION")
    return {"engine_id": row.id, "name": row.name, "version": row.version}


@router.get("/list", response_model=list[EngineListed])
def list_engines(session: SessionDep, tenant: TenantDep) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Engine).where(Engine.tenant_id == tenant).order_by(Engine.uploaded_at)
    ).all()
    selected = session.get(EngineSelection, tenant)
    spot = session.get(PurposeEngineSelection, (tenant, "spot-optimize"))
    out = [_builtin(name) | {"purpose": "placement"} for name in BUILTIN_ENGINES]
    out += [_builtin(name) | {"purpose": "spot-optimize"} for name in SPOT_ENGINES]
    out += [
        {
            "engine_id": r.id,
            "name": r.name,
            "version": r.version,
            "description": r.description,
            "builtin": False,
        }
        for r in rows
    ]
    for entry in out:
        entry["selected"] = selected is not None and selected.engine_id == entry["engine_id"]
        entry["selected_for_spot"] = (
            spot.engine_id == entry["engine_id"] if spot else entry["engine_id"] in SPOT_ENGINES
        )
    return out


@router.post("/select", response_model=EngineSelectOut)
def select_engine(body: EngineSelectIn, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Route this tenant's decisions (of ``purpose``) through ``engine_id`` with ``config``."""
    if body.purpose == "spot-optimize":
        return _select_spot(body, session, tenant)
    if body.engine_id not in BUILTIN_ENGINES:
        _row(session, tenant, body.engine_id)
    row = session.get(EngineSelection, tenant)
    if row is None:
        session.add(
            EngineSelection(
                tenant_id=tenant, engine_id=body.engine_id, config=body.config, selected_at=now()
            )
        )
    else:
        row.engine_id, row.config, row.selected_at = body.engine_id, body.config, now()
    session.commit()
    return {"engine_id": body.engine_id, "config": body.config}


def _select_spot(body: EngineSelectIn, session: SessionDep, tenant: str) -> dict[str, Any]:
    if body.engine_id not in SPOT_ENGINES:
        _row(session, tenant, body.engine_id)
    row = session.get(PurposeEngineSelection, (tenant, body.purpose))
    if row is None:
        session.add(
            PurposeEngineSelection(
                tenant_id=tenant,
                purpose=body.purpose,
                engine_id=body.engine_id,
                config=body.config,
                selected_at=now(),
            )
        )
    else:
        row.engine_id, row.config, row.selected_at = body.engine_id, body.config, now()
    session.commit()
    return {"engine_id": body.engine_id, "config": body.config, "purpose": body.purpose}


@router.get("/{engine_id}/metadata", response_model=EngineMetaOut)
def metadata(engine_id: str, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    if engine_id in BUILTIN_ENGINES or engine_id in SPOT_ENGINES:
        return _builtin(engine_id)
    row = _row(session, tenant, engine_id)
    return {
        "engine_id": row.id,
        "name": row.name,
        "version": row.version,
        "description": row.description,
        "input_schema": row.input_schema,
        "output_schema": row.output_schema,
        "sha256": row.sha256,
        "uploaded_at": row.uploaded_at.isoformat(),
        "builtin": False,
    }


@router.post("/{engine_id}/test", response_model=EngineTestOut)
def test_engine(
    engine_id: str, body: EngineTestIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """Run an uploaded engine on a sample input in the sandbox and show what it returned."""
    row = _row(session, tenant, engine_id)
    result = state.pool().call(row.source, body.request, body.config)
    return {
        "ok": result.ok,
        "output": result.output,
        "fallback_reason": result.fallback_reason,
        "elapsed_ms": result.elapsed_ms,
    }
