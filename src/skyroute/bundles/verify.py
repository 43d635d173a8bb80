"""Reading a bundle: the manifest, every hash, the model file's format and its shapes.

Nothing here ever unpickles. Files that would run code when loaded (pickle, joblib,
``torch.save``) are recognised by name and by their bytes and refused unless the operator
allowed unsafe models -- and then the bundle is marked ``unsafe`` and still not loaded. The
real guarantee is that only parsers which cannot execute code (protobuf, JSON, UBJSON, LightGBM
text, safetensors) ever open a model file; detection is there so refusal is early and clear.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyroute.bundles.errors import BundleError, UnsafeBundleError
from skyroute.bundles.manifest import OUTPUT_WIDTHS, UNSAFE_FORMATS, Manifest, Tensor

if TYPE_CHECKING:
    from skyroute.bundles.predict import Predictor

#: Suffixes of pickle-based files (``.bin`` is judged by content: a torch zip or a pickle).
UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".sav", ".dill")
MAX_MANIFEST_BYTES = 1 << 20
_HEAD = 1 << 16
_SAFE_FORMATS_FIX = (
    "export to ONNX, safetensors, XGBoost JSON/UBJ or LightGBM text; or have the operator "
    "allow unsafe models (SKYROUTE_ALLOW_UNSAFE_MODELS=true, `--allow-unsafe`)"
)


@dataclass(frozen=True)
class Bundle:
    """A verified bundle folder: where it lives and what its manifest says."""

    root: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model_file

    def predictor(self) -> Predictor:
        """The loaded model, one thread per call (see skyroute.bundles.predict)."""
        from skyroute.bundles.predict import load_predictor

        return load_predictor(self.manifest, self.model_path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_pickle(head: bytes) -> bool:
    """Protocol 2+ pickles start with PROTO (0x80) and the protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _decompressed_head(head: bytes) -> bytes:
    """The first bytes inside a zlib/gzip/bz2/xz/lzma stream (how joblib compresses pickles).

    Output is capped at a few bytes, so a decompression bomb costs nothing.
    """
    openers: list[tuple[bytes, Callable[[], bytes]]] = [
        (b"\x1f\x8b", lambda: zlib.decompressobj(wbits=31).decompress(head, 16)),
        (b"BZh", lambda: bz2.BZ2Decompressor().decompress(head, 16)),
        (b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor().decompress(head, 16)),
        (b"\x5d\x00\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(head, 16)),
    ]
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        openers.append((head[:2], lambda: zlib.decompressobj().decompress(head, 16)))
    for magic, open_ in openers:
        if head.startswith(magic):
            try:
                return open_()
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError):
                return b""
    return b""


def _zip_holds_pickle(path: Path) -> bool:
    """``torch.save`` writes a zip with ``archive/data.pkl``; look at names and first bytes."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()[:256]
            for info in members:
                if info.filename.endswith(".pkl"):
                    return True
                if info.flag_bits & 0x1 or info.file_size < 2:
                    continue
                with archive.open(info) as member:
                    if _is_pickle(member.read(2)):
                        return True
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        return False
    return False


def runs_code_when_loaded(path: Path) -> str | None:
    """Why loading ``path`` would execute code (pickle-based), or None. Never unpickles."""
    if path.suffix.lower() in UNSAFE_SUFFIXES:
        return f"{path.name}: {path.suffix} files are pickles"
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
    if _is_pickle(head):
        return f"{path.name}: starts like a pickle (protocol {head[1]})"
    if _is_pickle(_decompressed_head(head)):
        return f"{path.name}: a compressed pickle (joblib)"
    if zipfile.is_zipfile(path) and _zip_holds_pickle(path):
        return f"{path.name}: a zip holding a pickle (what torch.save writes)"
    return None


def read_bundle(path: Path, *, allow_unsafe: bool = False) -> Bundle:
    """Verify the bundle directory ``path`` and return it; a BundleError says what to fix.

    With ``allow_unsafe`` pickle-based files are accepted but only marked (``unsafe=True``):
    they are never loaded, so their model checks are skipped.
    """
    root = Path(path)
    manifest = _read_manifest(root)
    present = _listing(root)
    reasons = [r for name in present if (r := runs_code_when_loaded(root / name)) is not None]
    if manifest.format in UNSAFE_FORMATS:
        reasons.append(f"format {manifest.format!r} is pickle-based")
    if reasons and not allow_unsafe:
        raise UnsafeBundleError(
            "refused: loading this bundle would run code (" + "; ".join(reasons) + ")",
            _SAFE_FORMATS_FIX,
        )
    unlisted = sorted(set(present) - set(manifest.files))
    if unlisted:
        raise BundleError(
            f"files not listed in bundle.json: {unlisted}",
            "remove them, or list each with its sha256 under 'files'",
        )
    for name, expected in sorted(manifest.files.items()):
        if name not in present:
            raise BundleError(f"{name} is listed in bundle.json but missing", "add the file")
        actual = sha256_of(root / name)
        if actual != expected:
            raise BundleError(
                f"{name}: sha256 {actual[:12]}... does not match bundle.json ({expected[:12]}...)",
                "the file changed after the bundle was written; re-export or re-pack it",
            )
    # The reader decides what is unsafe; a flag written by the author is not trusted.
    bundle = Bundle(root, replace(manifest, unsafe=bool(reasons)))
    if not reasons:
        check_model(bundle)
    return bundle


def _read_manifest(root: Path) -> Manifest:
    if root.is_file() and zipfile.is_zipfile(root):
        raise BundleError(
            f"{root} is a zip", "unpack it with skyroute.bundles.extract_bundle first"
        )
    manifest_path = root / "bundle.json"
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise BundleError(f"{root} has no bundle.json", "a bundle is a folder with bundle.json")
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError("bundle.json is larger than 1 MB", "keep large data in listed files")
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BundleError("bundle.json is not UTF-8 text", "save it as UTF-8 JSON") from None
    return Manifest.from_json(text)


def _listing(root: Path) -> list[str]:
    """Relative names of the regular files besides bundle.json; links are refused."""
    names = []
    for item in sorted(root.rglob("*")):
        mode = item.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise BundleError(
                f"{item.relative_to(root)} is a link or special file",
                "bundles hold regular files only; copy the target file in instead",
            )
        name = item.relative_to(root).as_posix()
        if name != "bundle.json":
            names.append(name)
    return names


def check_model(bundle: Bundle) -> None:
    """The model file parses in its declared format and its shapes fit the manifest and kind."""
    m = bundle.manifest
    _check_declared_width(m)
    _check_file_kind(bundle.model_path, m.format)
    if m.format == "onnx":
        _check_onnx_graph(bundle.model_path, m)
    try:
        from skyroute.bundles.predict import load_predictor

        predictor = load_predictor(m, bundle.model_path)
    except BundleError:
        raise
    except ImportError as exc:
        raise BundleError(
            f"cannot check {m.model_file}: {exc.name or exc} is not installed",
            "pip install 'skyroute[models]' (or 'skyroute[serve]' for ONNX)",
        ) from None
    except Exception as exc:  # any parser failure means the file is not what it claims
        raise BundleError(
            f"{m.model_file} does not load as {m.format} ({type(exc).__name__}: {exc})",
            "check the 'format' field and the file",
        ) from None
    _check_probe(predictor, m)


def _widths(allowed: tuple[int, ...]) -> str:
    return " or ".join(str(w) for w in allowed)


def _check_declared_width(m: Manifest) -> None:
    allowed, declared = OUTPUT_WIDTHS[m.kind], m.outputs[-1].shape[-1]
    if allowed is not None and declared != -1 and declared not in allowed:
        raise BundleError(
            f"a {m.kind} bundle outputs {_widths(allowed)} values per row; "
            f"bundle.json 'outputs' declares {declared}",
            f"export the model with {_widths(allowed)} outputs, or fix 'kind'",
        )


def _check_file_kind(path: Path, fmt: str) -> None:
    """Cheap magic-byte checks, so xgboost-json holding UBJSON (and so on) is named clearly."""
    with path.open("rb") as handle:
        head = handle.read(64)
    stripped = head.lstrip()
    ok = {
        "xgboost-json": stripped.startswith(b"{") and stripped[1:].lstrip().startswith(b'"'),
        "xgboost-ubj": head.startswith(b"{") and head[1:2] not in b' \t\r\n"',
        "lightgbm-text": head.startswith(b"tree"),
        "safetensors": len(head) > 8 and head[8:9] == b"{",
    }.get(fmt, True)
    if not ok:
        raise BundleError(
            f"{path.name} is not a {fmt} file (it starts with {head[:12]!r})",
            "check the 'format' field: onnx, xgboost-json, xgboost-ubj, lightgbm-text, safetensors",
        )


def _check_onnx_graph(path: Path, m: Manifest) -> None:
    """``onnx.checker`` passes, no external data, and the graph's tensors match bundle.json."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:
        raise BundleError(
            f"{path.name} is not a valid ONNX model ({type(exc).__name__}: {exc})",
            "re-export it and check it with onnx.checker.check_model",
        ) from None
    graph = model.graph
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.initializer):
        raise BundleError(
            f"{path.name} keeps weights in external data files",
            "save the model with all tensors inside the .onnx file",
        )
    weights = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in weights]
    if len(inputs) != len(m.inputs):
        raise BundleError(
            f"bundle.json declares {len(m.inputs)} inputs, the ONNX graph has {len(inputs)} "
            f"({[v.name for v in inputs]})",
            "declare one entry per graph input",
        )
    for key, declared, values in (
        ("inputs", m.inputs, inputs),
        ("outputs", m.outputs, graph.output),
    ):
        for tensor, value in _pair(key, declared, list(values)):
            _compare(key, tensor, value)


def _pair(key: str, declared: tuple[Tensor, ...], values: list[Any]) -> list[tuple[Tensor, Any]]:
    """Match by name; a lone declared tensor may be named freely and pairs with the graph's
    only input / last output (what the predictor feeds and returns)."""
    by_name = {v.name: v for v in values}
    if all(t.name in by_name for t in declared):
        return [(t, by_name[t.name]) for t in declared]
    if len(declared) == 1 and values:
        return [(declared[0], values[-1] if key == "outputs" else values[0])]
    raise BundleError(
        f"bundle.json '{key}' names {[t.name for t in declared]}, "
        f"the ONNX graph has {sorted(by_name)}",
        "use the graph's names",
    )


def _compare(key: str, tensor: Tensor, value: Any) -> None:
    from onnx.helper import tensor_dtype_to_np_dtype

    where = f"ONNX {key[:-1]} {value.name!r}"
    if not value.type.HasField("tensor_type"):
        raise BundleError(
            f"{where} is not a tensor (a ZipMap of class labels?)",
            "export classifiers with options={'zipmap': False}",
        )
    tensor_type = value.type.tensor_type
    dtype = tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    if dtype != tensor.dtype:
        raise BundleError(
            f"{where} is {dtype}, bundle.json declares {tensor.dtype}", f"declare {dtype}"
        )
    if not tensor_type.HasField("shape"):
        return
    dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)
    clash = len(dims) != len(tensor.shape) or any(
        a != b and -1 not in (a, b) for a, b in zip(dims, tensor.shape, strict=False)
    )
    if clash:
        raise BundleError(
            f"{where} has shape {list(dims)}, bundle.json declares {list(tensor.shape)}",
            "declare the graph's shape (-1 for dynamic axes)",
        )


def _check_probe(predictor: Predictor, m: Manifest) -> None:
    """Run the model on two rows of zeros: what it takes and returns must fit bundle.json."""
    import numpy as np

    declared_in = m.inputs[0].shape[-1]
    takes = predictor.n_features
    if takes is not None and declared_in != -1 and takes != declared_in:
        raise BundleError(
            f"{m.model_file} takes {takes} features, bundle.json declares {declared_in}",
            f"declare input {m.inputs[0].name!r} with shape [-1, {takes}]",
        )
    width = takes if takes is not None else declared_in
    if width == -1:
        return  # nothing says how wide a row is: the shapes stay unchecked
    try:
        out = np.asarray(predictor.predict(np.zeros((2, width), dtype=np.float32)))
    except Exception as exc:
        raise BundleError(
            f"{m.model_file} fails on a probe input of shape (2, {width}) ({exc})",
            "check the model's input shape",
        ) from None
    if out.size == 0 or out.shape[0] != 2:
        raise BundleError(
            f"{m.model_file} returns shape {out.shape} for 2 rows", "one row out per row in"
        )
    got = out.reshape(2, -1).shape[1]
    allowed, declared = OUTPUT_WIDTHS[m.kind], m.outputs[-1].shape[-1]
    if allowed is not None and got not in allowed:
        raise BundleError(
            f"{m.model_file} returns {got} values per row; a {m.kind} needs {_widths(allowed)}",
            "re-export the model with the right number of outputs",
        )
    if declared != -1 and got != declared:
        raise BundleError(
            f"{m.model_file} returns {got} values per row; bundle.json declares {declared}",
            f"declare output {m.outputs[-1].name!r} with shape [-1, {got}]",
        )
