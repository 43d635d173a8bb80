"""Receiving a model bundle: stream, cap, unpack safely, verify, then make it visible.

The bundle's files land in ``MODEL_UPLOAD_DIR/<tenant>/<model_id>/<version>/<row id>`` only
after the archive was unpacked and verified in a private folder under
``MODEL_UPLOAD_DIR/.staging``; one rename publishes the folder, and the database rows that make
the version visible -- the version and its zip, from which other replicas unpack it
(``serve/bundle_store.py``) -- are written last, in one transaction (two uploads of one version
race on it: the loser gets a 409). A failure at any step leaves nothing behind: no file, no
folder (empty parents are pruned), no row.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.serve.auth import now
from skyroute.serve.bundle_contracts import check_observation
from skyroute.serve.bundle_store import version_dir
from skyroute.serve.db import commit_or_conflict, conflict_on_duplicate
from skyroute.serve.errors import ApiError
from skyroute.serve.settings import Settings
from skyroute.serve.tables import ModelArchive, ModelVersion

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CHUNK = 1 << 20
#: Where uploads are unpacked and verified before one rename makes them a version folder.
STAGING = ".staging"
PUBLISH_TRIES = 5


def _check_name(field: str, value: str) -> None:
    if not NAME.match(value) or ".." in value:
        raise ApiError(
            422,
            "invalid_name",
            f"{field} {value!r} is not allowed",
            "use letters, digits, '.', '_' and '-' (at most 100 characters)",
        )


def _spool(source: BinaryIO, directory: Path, limit_bytes: int) -> tuple[Path, str]:
    """Copy the upload to a private file, refusing it past ``limit_bytes``; (path, sha256)."""
    fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".zip", dir=directory)
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit_bytes:
                out.close()
                Path(name).unlink(missing_ok=True)
                raise ApiError(
                    413,
                    "too_large",
                    f"upload above {limit_bytes // (1 << 20)} MB",
                    "raise SKYROUTE_MAX_UPLOAD_MB or ship a smaller bundle",
                )
            digest.update(chunk)
            out.write(chunk)
    return Path(name), digest.hexdigest()


def store_bundle(
    session: Session,
    settings: Settings,
    tenant_id: str,
    model_id: str,
    version: str,
    trained_until: str | None,
    source: BinaryIO,
) -> ModelVersion:
    """Verify and store an uploaded bundle zip as version ``version`` of ``model_id``."""
    from skyroute.bundles import extract_bundle, read_bundle

    _check_name("model name", model_id)
    _check_name("version", version)
    taken = (f"{model_id} {version} exists", "upload a new version")
    row_id = str(uuid.uuid4())
    final = version_dir(settings, tenant_id, model_id, version, row_id)
    if _stored(session, tenant_id, model_id, version):
        raise ApiError(409, "conflict", *taken)
    staging_root = settings.model_upload_dir / STAGING
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="upload-", dir=staging_root))
    try:
        archive, sha = _spool(source, staging, settings.max_upload_mb << 20)
        unpacked = extract_bundle(archive, staging / "bundle")
        bundle = read_bundle(unpacked, allow_unsafe=settings.allow_unsafe_models)
        manifest = bundle.manifest
        trained = trained_until or manifest.trained_until
        if trained_until and manifest.trained_until and trained_until != manifest.trained_until:
            raise ApiError(
                422,
                "bundle_invalid",
                f"trained_until {trained_until} differs from the bundle's {manifest.trained_until}",
                "omit trained_until or send the bundle's value",
            )
        if not trained:
            raise ApiError(
                422, "bundle_invalid", "the model has no trained_until", "set it in bundle.json"
            )
        check_observation(manifest.kind, manifest.to_dict(), f"{model_id}@{version}")
        _publish(unpacked, final, taken)
        try:
            row = ModelVersion(
                id=row_id,
                tenant_id=tenant_id,
                model_id=model_id,
                version=version,
                kind=manifest.kind,
                format=manifest.format,
                trained_until=str(trained),
                uploaded_at=now(),
                path=str(final.resolve()),
                sha256=sha,
                unsafe=bool(manifest.unsafe),
                manifest=manifest.to_dict(),
            )
            session.add(row)
            with conflict_on_duplicate(session, *taken):
                session.flush()  # the version's row before the archive that points at it
            session.add(ModelArchive(model_version_id=row_id, data=archive.read_bytes()))
            commit_or_conflict(session, *taken)
        except BaseException:
            session.rollback()
            shutil.rmtree(final, ignore_errors=True)
            _prune(final.parent, settings.model_upload_dir)
            raise
        return row
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stored(session: Session, tenant_id: str, model_id: str, version: str) -> bool:
    found = session.scalar(
        select(ModelVersion.id).where(
            ModelVersion.tenant_id == tenant_id,
            ModelVersion.model_id == model_id,
            ModelVersion.version == version,
        )
    )
    return found is not None


def _publish(unpacked: Path, final: Path, taken: tuple[str, str]) -> None:
    """Move the verified bundle to ``final`` in one rename; 409 when another upload won.

    A refused upload prunes its empty parent folders, possibly between our ``mkdir`` and our
    ``rename``; then the folders are made again and the rename retried.
    """
    for _ in range(PUBLISH_TRIES):
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(unpacked, final)
            return
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise ApiError(409, "conflict", *taken) from None
            raise
    raise ApiError(409, "conflict", taken[0], "retry the upload")


def _prune(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents below ``root`` while they are empty."""
    root = root.resolve()
    folder = folder.resolve()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (another version, or an upload moving in): keep it
            return
        folder = folder.parent
