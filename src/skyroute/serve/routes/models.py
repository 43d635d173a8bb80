"""``/api/v1/ml/models``: upload, list, activate, split, inspect, download and delete bundles."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from skyroute.serve import model_registry
from skyroute.serve.bundle_store import ArchiveMissing, local_bundle
from skyroute.serve.errors import ApiError
from skyroute.serve.routes.deps import SessionDep, StateDep, TenantDep
from skyroute.serve.schemas import (
    ActivateIn,
    ModelDeletedOut,
    ModelDetailsOut,
    ModelRow,
    ModelUploadOut,
    SplitIn,
    SplitOut,
)
from skyroute.serve.tables import ModelVersion
from skyroute.serve.uploads import store_bundle

router = APIRouter(prefix="/api/v1/ml/models", tags=["models"])

Version = Annotated[str, Query(min_length=1, max_length=50)]


@router.post("/upload", status_code=201, response_model=ModelUploadOut)
def upload(
    state: StateDep,
    session: SessionDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="The bundle as a .zip")],
    name: Annotated[str, Form(description="The model's name (its model_id)", max_length=100)],
    version: Annotated[str, Form(max_length=50)],
    trained_until: Annotated[date | None, Form(description="ISO date; default: bundle's")] = None,
) -> dict[str, Any]:
    """Verify and store a bundle; it serves nothing until activated."""
    trained = trained_until.isoformat() if trained_until else None
    row = store_bundle(session, state.settings, tenant, name, version, trained, file.file)
    return {
        "model_id": row.model_id,
        "version": row.version,
        "kind": row.kind,
        "unsafe": row.unsafe,
        "sha256": row.sha256,
    }


@router.get("/list", response_model=list[ModelRow])
def list_models(session: SessionDep, tenant: TenantDep) -> list[ModelRow]:
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.tenant_id == tenant)
        .order_by(ModelVersion.model_id, ModelVersion.uploaded_at)
    ).all()
    splits: dict[str, dict[str, float]] = {}
    out = []
    for r in rows:
        if r.model_id not in splits:
            splits[r.model_id] = dict(model_registry.current_split(session, tenant, r.model_id))
        weight = splits[r.model_id].get(r.version, 0.0)
        out.append(
            ModelRow(
                model_id=r.model_id,
                name=r.model_id,
                version=r.version,
                kind=r.kind,
                trained_until=r.trained_until,
                uploaded_at=r.uploaded_at.isoformat(),
                active=weight > 0,
                weight=weight,
                unsafe=r.unsafe,
            )
        )
    return out


@router.post("/activate", response_model=SplitOut)
def activate(body: ActivateIn, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Serve all of ``model_id``'s traffic with ``version`` (ends any split)."""
    model_registry.set_split(session, tenant, body.model_id, [(body.version, 1.0)])
    return {
        "model_id": body.model_id,
        "split": model_registry.current_split(session, tenant, body.model_id),
    }


@router.post("/split", response_model=SplitOut)
def split(body: SplitIn, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """A/B: share ``model_id``'s traffic between versions by weight, sticky per caller key."""
    model_registry.set_split(
        session, tenant, body.model_id, [(v.version, v.weight) for v in body.versions]
    )
    return {
        "model_id": body.model_id,
        "split": model_registry.current_split(session, tenant, body.model_id),
    }


@router.get("/{model_id}", response_model=ModelDetailsOut)
def details(model_id: str, session: SessionDep, tenant: TenantDep) -> dict[str, Any]:
    """Every version's manifest (metrics, features, training parameters) and the history."""
    rows = model_registry.versions_of(session, tenant, model_id)
    current = dict(model_registry.current_split(session, tenant, model_id))
    return {
        "model_id": model_id,
        "versions": [
            {
                "version": r.version,
                "kind": r.kind,
                "format": r.format,
                "trained_until": r.trained_until,
                "uploaded_at": r.uploaded_at.isoformat(),
                "unsafe": r.unsafe,
                "weight": current.get(r.version, 0.0),
                "sha256": r.sha256,
                "manifest": r.manifest,
            }
            for r in rows
        ],
        "history": model_registry.history(session, tenant, model_id),
    }


@router.get(
    "/{model_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The bundle zip."}},
)
def download(
    model_id: str, version: Version, session: SessionDep, tenant: TenantDep, state: StateDep
) -> Any:
    """The stored bundle as a zip."""
    row = model_registry.get_version(session, tenant, model_id, version)
    buffer = io.BytesIO()
    try:
        root = local_bundle(state.settings, state.sessions, row)
    except ArchiveMissing as exc:
        raise ApiError(404, "not_found", str(exc), "upload this version again") from None
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    buffer.seek(0)
    filename = f"{model_id}-{version}.zip"
    return StreamingResponse(
        buffer,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete("/{model_id}", response_model=ModelDeletedOut)
def remove(
    model_id: str, session: SessionDep, tenant: TenantDep, version: Version | None = None
) -> dict[str, Any]:
    """Delete every version of ``model_id`` (or just ``?version=``)."""
    deleted = model_registry.delete_model(session, tenant, model_id, version)
    return {"model_id": model_id, "deleted_versions": deleted}
