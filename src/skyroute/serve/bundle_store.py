"""Where a stored model version's files are on this replica, unpacked from the database if need be.

Replicas do not share a disk (a Kubernetes pod's ``MODEL_UPLOAD_DIR`` is its own), but they
share the database, which holds every upload's zip (``ModelArchive``). The replica that took
the upload serves it from its folder; any other replica, the first time it needs the version,
unpacks the zip from the database into the same layout, verifies it like an upload and
publishes it with one rename (several workers racing on it: the first rename wins, the others
use its folder).

Each version's folder ends in its row id (``<tenant>/<model>/<version>/<row id>``), so a
folder left on one replica by a version deleted elsewhere is never mistaken for a later upload
of the same version name.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from skyroute.serve.settings import Settings
from skyroute.serve.tables import ModelArchive, ModelVersion

#: Where archives are unpacked and verified before the rename (beside uploads' staging).
STAGING = ".staging"


class ArchiveMissing(RuntimeError):
    """The version's files are not on this replica and the database holds no zip of it."""


def version_dir(
    settings: Settings, tenant_id: str, model_id: str, version: str, row_id: str
) -> Path:
    """The folder of one stored version on this replica."""
    return settings.model_upload_dir / tenant_id / model_id / version / row_id


def local_bundle(settings: Settings, sessions: sessionmaker[Session], row: ModelVersion) -> Path:
    """The folder holding ``row``'s bundle on this replica, unpacked from the database when
    another replica took the upload."""
    here = version_dir(settings, row.tenant_id, row.model_id, row.version, row.id)
    if here.is_dir():
        return here
    uploaded = Path(row.path)  # where the replica that took it put it: ours if it is under ours
    root = settings.model_upload_dir.resolve()
    if uploaded.is_dir() and root in uploaded.resolve().parents:
        return uploaded  # (an upload from before folders were named by row id)
    with sessions() as session:
        data = session.scalar(
            select(ModelArchive.data).where(ModelArchive.model_version_id == row.id)
        )
    if data is None:
        raise ArchiveMissing(
            f"{row.model_id}@{row.version}: no files on this replica and no archive in the "
            "database (uploaded before archives were stored); upload it again"
        )
    _unpack(settings, bytes(data), here)
    return here


def _unpack(settings: Settings, data: bytes, final: Path) -> None:
    from skyroute.bundles import extract_bundle, read_bundle

    staging_root = settings.model_upload_dir / STAGING
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="archive-", dir=staging_root))
    try:
        unpacked = extract_bundle(data, staging / "bundle")
        read_bundle(unpacked, allow_unsafe=settings.allow_unsafe_models)  # hashes, manifest
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(unpacked, final)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # another worker of this replica published it first: its folder is the same bundle
    finally:
        shutil.rmtree(staging, ignore_errors=True)
