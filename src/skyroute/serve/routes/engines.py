"""``/api/v1/ml/engines``: upload, list, select, inspect and test decision engines.

Uploaded engines are inspected and run only inside the sandbox (``skyroute.serve.engines``);
their source is stored in the database, never imported by the server.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from pydantic import ValidationError
from sqlalchemy import select

from skyroute.errors import UnknownNameError
from skyroute.fields import json_problem
from skyroute.serve import decisions
from skyroute.serve.auth import now
from skyroute.serve.candidates import DecisionBatch, placement_dict
from skyroute.serve.db import commit_or_conflict
from skyroute.serve.engines import base
from skyroute.serve.engines.base import EngineContext, EngineInfo
from skyroute.serve.engines.contract import EngineMeta
from skyroute.serve.engines.registry import DEFAULT_ENGINE
from skyroute.serve.engines.sandboxed import SandboxedEngine
from skyroute.serve.errors import ApiError
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import (
    DecideRequest,
    EngineListed,
    EngineMetaOut,
    EngineSelectIn,
    EngineSelectOut,
    EngineTestIn,
    EngineTestOut,
    EngineUploadOut,
)
from skyroute.serve.tables import Engine, EngineSelection, PurposeEngineSelection

router = APIRouter(prefix="/api/v1/ml/engines", tags=["engines"])

MAX_SOURCE_BYTES = 256 * 1024


def _row(session: SessionDep, tenant: str, engine_id: str) -> Engine:
    row = session.scalar(select(Engine).where(Engine.tenant_id == tenant, Engine.id == engine_id))
    if row is None:
        raise ApiError(404, "not_found", f"no engine {engine_id!r}", "GET /api/v1/ml/engines/list")
    return row


def _known(state: StateDep, session: SessionDep, tenant: str, engine_id: str) -> base.Engine:
    """A registered engine or one of the tenant's uploads (else a 404 with "did you mean")."""
    try:
        return state.engines.get(session, tenant, engine_id)
    except ApiError:
        hint = UnknownNameError("engine", engine_id, state.engines.names()).fix
        raise ApiError(
            404, "not_found", f"no engine {engine_id!r}", f"{hint}, or an uploaded id"
        ) from None


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
    meta = state.sandbox().inspect(tenant, source)
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
def list_engines(state: StateDep, session: SessionDep, tenant: TenantDep) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Engine).where(Engine.tenant_id == tenant).order_by(Engine.uploaded_at)
    ).all()
    selected = session.get(EngineSelection, tenant)
    spot = session.get(PurposeEngineSelection, (tenant, "spot-optimize"))
    active = selected.engine_id if selected else state.settings.engine_active or DEFAULT_ENGINE
    out = [_summary(info) for info in state.engines.builtin_infos()]
    out += [
        {
            "engine_id": r.id,
            "name": r.name,
            "version": r.version,
            "description": r.description,
            "purpose": "placement",
            "builtin": False,
        }
        for r in rows
    ]
    for entry in out:
        entry["selected"] = entry["purpose"] == "placement" and entry["engine_id"] == active
        entry["selected_for_spot"] = (
            spot.engine_id == entry["engine_id"] if spot else entry["engine_id"] == "spot-optimize"
        )
    return out


def _summary(info: EngineInfo) -> dict[str, Any]:
    keep = ("engine_id", "name", "version", "description", "purpose", "builtin")
    return {k: v for k, v in info.as_dict().items() if k in keep}


@router.post("/select", response_model=EngineSelectOut)
def select_engine(
    body: EngineSelectIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """Route this tenant's decisions (of ``purpose``) through ``engine_id`` with ``config``."""
    info = _known(state, session, tenant, body.engine_id).info
    if info.builtin and info.purpose != body.purpose:  # uploads may serve either purpose
        raise ApiError(
            422,
            "engine_invalid",
            f"engine {body.engine_id!r} decides {info.purpose}, not {body.purpose}",
            f'select it with "purpose": "{info.purpose}"',
        )
    if body.purpose == "spot-optimize":
        return _select_spot(body, session, tenant)
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
    state.selections.forget(tenant)  # this process sees the new selection at once
    return {"engine_id": body.engine_id, "config": body.config}


def _select_spot(body: EngineSelectIn, session: SessionDep, tenant: str) -> dict[str, Any]:
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
def metadata(
    engine_id: str, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    info = _known(state, session, tenant, engine_id).info.as_dict()
    if not info["builtin"]:
        row = _row(session, tenant, engine_id)
        info |= {"sha256": row.sha256, "uploaded_at": row.uploaded_at.isoformat()}
    return info


@router.post("/{engine_id}/test", response_model=EngineTestOut)
def test_engine(
    engine_id: str, body: EngineTestIn, state: StateDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """Run any engine on a sample input and show what it returned (nothing is stored).

    Module engines (uploads, ``rules``, operator engines) get the raw request in the sandbox;
    built-in placement engines get it as a decision request through the decide pipeline.
    """
    engine = _known(state, session, tenant, engine_id)
    info = engine.info
    ctx = EngineContext(session, state, tenant, body.config)
    start = time.perf_counter()
    if isinstance(engine, SandboxedEngine):
        result = engine.run(ctx, [body.request])[0]
        return {
            "ok": result.ok,
            "output": result.output,
            "fallback_reason": result.fallback_reason,
            "elapsed_ms": result.elapsed_ms,
        }
    try:
        request = DecideRequest.model_validate(body.request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(
            422,
            "invalid_request",
            f"request.{where}: {first['msg']}",
            f"send a decision request as {info.name} expects it (see /docs, DecideRequest)",
        ) from None
    judged = DecisionBatch.build([request], state.world)
    proposals = decisions.propose(engine, judged, session, state, tenant, body.config)
    final = decisions.resolve(judged, proposals, engine)[0]
    return {
        "ok": final.fallback_reason is None,
        "output": {
            "placement": placement_dict(state.world, final.placement),
            "explanation": final.explanation,
        },
        "fallback_reason": final.fallback_reason,
        "elapsed_ms": (time.perf_counter() - start) * 1000.0,
    }
