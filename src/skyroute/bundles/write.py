"""Writing bundles: the export step of every training command."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skyroute.bundles.manifest import Manifest, Tensor
from skyroute.bundles.verify import sha256_of
from skyroute.io import staged_output_dir


def write_bundle(
    out_dir: Path,
    *,
    name: str,
    version: str,
    kind: str,
    format: str,
    trained_until: str,
    model_file: Path,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    extra_files: list[Path] = [],  # noqa: B006 - never mutated
    **fields: Any,
) -> Manifest:
    """Copy the files into ``out_dir``, hash them and write bundle.json; all or nothing."""
    with staged_output_dir(out_dir) as stage:
        files = {}
        for source in (model_file, *extra_files):
            shutil.copyfile(source, stage / source.name)
            files[source.name] = sha256_of(stage / source.name)
        manifest = Manifest(
            name=name,
            version=version,
            kind=kind,
            format=format,
            trained_until=trained_until,
            created_at=fields.pop("created_at", datetime.now(UTC).isoformat(timespec="seconds")),
            inputs=tuple(
                Tensor(i["name"], i.get("dtype", "float32"), tuple(i["shape"])) for i in inputs
            ),
            outputs=tuple(
                Tensor(o["name"], o.get("dtype", "float32"), tuple(o["shape"])) for o in outputs
            ),
            files=files,
            model_file=model_file.name,
            **fields,
        )
        Manifest.from_dict(manifest.to_dict())  # the same checks a reader applies
        (stage / "bundle.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _tensors(specs: list[dict[str, Any]]) -> tuple[Tensor, ...]:
    return tuple(Tensor(t["name"], t.get("dtype", "float32"), tuple(t["shape"])) for t in specs)
