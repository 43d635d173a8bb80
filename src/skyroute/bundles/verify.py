"""Reading a bundle: every hash, the manifest, the model file's format and its shapes.

Nothing here ever unpickles: files that would run code when loaded (pickle, joblib,
``torch.save``) are recognised by name and by their first bytes, and refused unless the
operator allowed unsafe models -- and then the bundle is marked ``unsafe``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from skyroute.bundles.manifest import (
    OUTPUT_WIDTH,
    UNSAFE_FORMATS,
    BundleError,
    Manifest,
    UnsafeBundleError,
)

UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".sav", ".dill")


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model_file

    def predictor(self) -> Any:
        """A loaded model with ``predict(x)`` (one thread; see skyroute.bundles.predict)."""
        from skyroute.bundles.predict import load_predictor

        return load_predictor(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def runs_code_when_loaded(path: Path) -> str | None:
    """Why loading ``path`` would execute code (pickle-based), or None. Never unpickles."""
    if path.suffix.lower() in UNSAFE_SUFFIXES:
        return f"{path.name}: {path.suffix} files are pickles"
    with path.open("rb") as handle:
        head = handle.read(4)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"{path.name}: starts like a pickle (protocol {head[1]})"
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(n.endswith((".pkl", "data.pkl")) for n in archive.namelist()):
                return f"{path.name}: a torch.save archive (holds a pickle)"
    return None


def read_bundle(path: Path, *, allow_unsafe: bool = False) -> Bundle:
    """Verify the bundle directory ``path`` and return it; a BundleError says what to fix."""
    path = Path(path)
    manifest_path = path / "bundle.json"
    if not manifest_path.is_file():
        raise BundleError(f"{path} has no bundle.json", "a bundle is a folder with bundle.json")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle.json is not valid JSON ({exc})", "fix the file") from None
    manifest = Manifest.from_dict(raw)
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {
        "bundle.json"
    }
    unlisted = sorted(present - set(manifest.files))
    if unlisted:
        raise BundleError(f"files not listed in bundle.json: {unlisted}", "list their sha256")
    unsafe_reasons = [
        reason
        for name in sorted(present)
        if (reason := runs_code_when_loaded(path / name)) is not None
    ]
    if manifest.format in UNSAFE_FORMATS:
        unsafe_reasons.append(f"format {manifest.format!r} is pickle-based")
    if unsafe_reasons:
        if not allow_unsafe:
            raise UnsafeBundleError(
                "refused: loading this bundle would run code (" + "; ".join(unsafe_reasons) + ")",
                "export to ONNX, safetensors, XGBoost JSON/UBJ or LightGBM text; or have the "
                "operator set SKYROUTE_ALLOW_UNSAFE_MODELS=true",
            )
        manifest = replace(manifest, unsafe=True)
    for name, expected in manifest.files.items():
        file = path / name
        if not file.is_file():
            raise BundleError(f"{name} is listed in bundle.json but missing", "add the file")
        actual = sha256_of(file)
        if actual != expected:
            raise BundleError(
                f"{name}: sha256 {actual[:12]}... does not match bundle.json ({expected[:12]}...)",
                "the file changed after packing; re-export the bundle",
            )
    bundle = Bundle(path, manifest)
    if not manifest.unsafe:
        _check_model(bundle)
    return bundle


def _check_model(bundle: Bundle) -> None:
    """The model file parses in its declared format and its shapes fit the manifest and kind."""
    m = bundle.manifest
    width = OUTPUT_WIDTH.get(m.kind)
    declared = m.outputs[0].shape[-1] if m.outputs[0].shape else None
    if width is not None and declared not in (width, -1):
        raise BundleError(
            f"a {m.kind} bundle outputs {width} values per row, bundle.json declares {declared}",
            f"export the model with {width} outputs",
        )
    try:
        from skyroute.bundles.predict import load_predictor

        predictor = load_predictor(bundle)
    except BundleError:
        raise
    except Exception as exc:  # any parser failure means the file is not what it claims
        raise BundleError(
            f"{m.model_file} does not load as {m.format} ({type(exc).__name__}: {exc})",
            "check the format field and the file",
        ) from None
    n_features = m.inputs[0].shape[-1]
    if n_features > 0:
        import numpy as np

        out = np.asarray(predictor.predict(np.zeros((2, n_features), dtype=np.float32)))
        got = out.reshape(2, -1).shape[1]
        if width is not None and got != width:
            raise BundleError(
                f"{m.model_file} returns {got} values per row; a {m.kind} needs {width}",
                "re-export the model",
            )
