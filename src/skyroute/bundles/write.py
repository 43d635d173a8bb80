"""Writing bundles: the export step of every training command.

A bundle is written into a private sibling directory and renamed into place only when every
file, hash and the manifest are complete, so a crash never leaves a half bundle that a server
could pick up. An existing bundle at the same place is replaced whole (not merged), so stale
model files from an earlier export cannot linger as unlisted files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skyroute.bundles.errors import UnsafeBundleError
from skyroute.bundles.manifest import Manifest, check_file_name
from skyroute.bundles.verify import runs_code_when_loaded, sha256_of
from skyroute.errors import OutputError


def write_bundle(
    out_dir: Path,
    *,
    name: str,
    version: str,
    kind: str,
    format: str,
    trained_until: str,
    inputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    files: Mapping[str, Path | bytes] | None = None,
    model_file: Path | str | None = None,
    extra_files: Sequence[Path] = (),
    features: Sequence[str] = (),
    metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    libraries: Mapping[str, str] | None = None,
    code_version: str = "",
    data_fingerprint: str = "",
    normalisation: Mapping[str, Any] | None = None,
    observation: Mapping[str, Any] | None = None,
    reference: Mapping[str, Any] | None = None,
    created_at: str | None = None,
) -> Manifest:
    """Write ``files`` (bundle name -> source path or bytes) and bundle.json into ``out_dir``.

    ``model_file`` names the file the model loads from: a key of ``files``, or a source
    ``Path`` copied in under its own name (as are ``extra_files``); it may be left out when the
    bundle holds one file. ``reference`` is the training inputs' distribution
    (:func:`skyroute.bundles.reference.input_reference`), what the server's drift check reads.
    The manifest gets the same validation a reader applies, and pickle-based content is
    refused, before anything becomes visible.
    """
    sources: dict[str, Path | bytes] = dict(files or {})
    if isinstance(model_file, Path):
        sources[model_file.name] = model_file
        model_file = model_file.name
    for extra in extra_files:
        sources[Path(extra).name] = Path(extra)
    for file_name in sources:
        check_file_name("files", file_name)
    out_dir = Path(out_dir)
    stage = _stage_dir(out_dir)
    try:
        hashes = _write_files(stage, sources)
        raw: dict[str, Any] = {
            "name": name,
            "version": version,
            "kind": kind,
            "format": format,
            "trained_until": trained_until,
            "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": [dict(t) for t in inputs],
            "outputs": [dict(t) for t in outputs],
            "files": hashes,
            "features": list(features),
            "metrics": dict(metrics or {}),
            "params": dict(params or {}),
            "libraries": dict(libraries or {}),
            "code_version": code_version,
            "data_fingerprint": data_fingerprint,
            "normalisation": dict(normalisation or {}),
            "observation": dict(observation or {}),
            "reference": dict(reference or {}),
        }
        if model_file is not None:
            raw["model_file"] = model_file
        manifest = Manifest.from_dict(raw)  # the same checks a reader applies
        (stage / "bundle.json").write_text(manifest.to_json(), encoding="utf-8")
        _swap_into_place(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return manifest


def _stage_dir(out_dir: Path) -> Path:
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(
            f"cannot write next to {out_dir}: {exc.strerror or exc}",
            "choose an output directory you can write to",
        ) from None


def _write_files(stage: Path, sources: Mapping[str, Path | bytes]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for file_name, source in sorted(sources.items()):
        target = stage.joinpath(*file_name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
        reason = runs_code_when_loaded(target)
        if reason is not None:
            raise UnsafeBundleError(
                f"refusing to write a pickle-based file into a bundle ({reason})",
                "export to ONNX, safetensors, XGBoost JSON/UBJ or LightGBM text",
            )
        hashes[file_name] = sha256_of(target)
    return hashes


def _swap_into_place(stage: Path, out_dir: Path) -> None:
    """Rename the finished stage to ``out_dir``, replacing an earlier bundle but nothing else."""
    old: Path | None = None
    if out_dir.exists() or out_dir.is_symlink():
        if out_dir.is_symlink() or not out_dir.is_dir():
            raise OutputError(f"{out_dir} exists and is not a directory", "pass a directory path")
        if any(out_dir.iterdir()) and not (out_dir / "bundle.json").is_file():
            raise OutputError(
                f"{out_dir} is not empty and holds no bundle", "write the bundle somewhere new"
            )
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, old / "bundle")
    try:
        os.replace(stage, out_dir)
    except OSError as exc:
        if old is not None:
            os.replace(old / "bundle", out_dir)
        raise OutputError(
            f"cannot create {out_dir}: {exc.strerror or exc}", "check permissions"
        ) from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
