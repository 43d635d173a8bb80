"""``make lambda-zip``: the router function's deployment zip and its runtime layer zip.

- function zip: ``handler.py``, ``router_model.py``, the ``skyroute`` modules the handler
  imports (found by importing it in a fresh interpreter with the bundle loaded), and the
  bundle as ``model/`` (``ROUTER_BUNDLE_DIR``'s default);
- layer zip: ``python/`` with the distributions the bundle's format needs at run time
  (NumPy and pydantic always; LightGBM, XGBoost, ONNX Runtime or safetensors by format, with
  their required dependencies, never optional extras), copied from this interpreter's
  site-packages without tests or bytecode caches.

Both sizes are printed and checked against Lambda's limits: 50 MB zipped for the function's
direct upload, 250 MB unzipped for the function and its layers together (a layer over 50 MB
zipped is published from S3, as ``sam deploy`` does). The layer holds this
machine's wheels: for a real deployment build it where the wheels match Lambda's python3.11
(Amazon Linux 2, x86_64) -- docs/deploy-lambda.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
HANDLER_FILES = ("handler.py", "router_model.py")
ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
#: Distributions every call needs, and those of each bundle format's runtime.
ALWAYS = ("numpy", "pydantic")
BY_FORMAT = {
    "lightgbm-text": ("lightgbm",),
    "xgboost-json": ("xgboost",),
    "xgboost-ubj": ("xgboost",),
    "onnx": ("onnxruntime",),
    "safetensors": ("safetensors",),
}
#: Left out of the layer: the runtime provides them, or they only serve tests and builds.
SKIP_DISTRIBUTIONS = {"pip", "setuptools", "wheel", "boto3", "botocore"}
SKIP_PARTS = {"__pycache__", "tests", "test"}


@dataclass(frozen=True)
class Built:
    path: Path
    zipped: int
    unzipped: int


def distributions(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    """``roots`` and their required (not optional) dependencies, installed ones only."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in SKIP_DISTRIBUTIONS:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def _keep(relative: Path) -> bool:
    return not (SKIP_PARTS & set(relative.parts)) and relative.suffix != ".pyc"


def _write(zf: zipfile.ZipFile, source: Path, arcname: str) -> int:
    zf.write(source, arcname)
    return source.stat().st_size


def layer_files(bundle_format: str) -> list[tuple[Path, str]]:
    """(source, name in the zip) of every file the layer holds for ``bundle_format``."""
    roots = ALWAYS + BY_FORMAT.get(bundle_format, ())
    found = []
    for dist in distributions(roots):
        for file in dist.files or []:
            relative = Path(str(file))
            source = Path(str(dist.locate_file(file))).resolve()
            if relative.parts[0] == ".." or not source.is_file() or not _keep(relative):
                continue  # scripts installed outside site-packages, caches, tests
            found.append((source, f"python/{relative.as_posix()}"))
    return found


def build_layer(bundle_format: str, out: Path) -> Built:
    unzipped = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for source, arcname in layer_files(bundle_format):
            unzipped += _write(zf, source, arcname)
    return Built(out, out.stat().st_size, unzipped)


def skyroute_modules(bundle: Path) -> list[Path]:
    """Files of the skyroute modules a fresh interpreter imports to answer one request."""
    probe = (
        "import json, sys, handler; "
        "handler.lambda_handler({'workload_type': 'lightweight_api', 'payload_size_kb': 1, "
        "'time_window': 'night', 'load_pattern': 'low', 'timestamp': 0}); "
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
        "if n.split('.')[0] == 'skyroute' and getattr(m, '__file__', None))))"
    )
    env = {"ROUTER_BUNDLE_DIR": str(bundle), "PYTHONPATH": f"{HERE}:{_src()}", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return [Path(p) for p in json.loads(done.stdout.strip().splitlines()[-1])]


def _src() -> Path:
    import skyroute

    return Path(skyroute.__file__).resolve().parents[1]


def build_function(bundle: Path, out: Path) -> Built:
    unzipped = 0
    src = _src()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in HANDLER_FILES:
            unzipped += _write(zf, HERE / name, name)
        for module in skyroute_modules(bundle):
            unzipped += _write(zf, module, module.resolve().relative_to(src).as_posix())
        for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
            unzipped += _write(zf, file, f"model/{file.relative_to(bundle).as_posix()}")
    return Built(out, out.stat().st_size, unzipped)


def problems(function: Built, layer_unzipped: int) -> list[str]:
    """Lambda's size limits the function zip and layer break (empty when they fit)."""
    found = []
    if function.zipped > ZIPPED_LIMIT:
        found.append(f"{function.path.name} is {function.zipped / 2**20:.1f} MB zipped (limit 50)")
    total = function.unzipped + layer_unzipped
    if total > UNZIPPED_LIMIT:
        found.append(f"function + layer unzip to {total / 2**20:.1f} MB (limit 250 MB)")
    return found


def build(bundle: Path, out_dir: Path) -> tuple[Built, Built]:
    """Both zips for the bundle directory ``bundle`` (its format picks the layer's runtime)."""
    manifest = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    function = build_function(bundle, out_dir / "router-function.zip")
    layer = build_layer(str(manifest.get("format", "")), out_dir / "router-runtime-layer.zip")
    return function, layer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="router.platform bundle dir")
    parser.add_argument("--out", type=Path, default=Path("out/lambda"))
    args = parser.parse_args(argv)
    function, layer = build(args.bundle, args.out)
    for b in (function, layer):
        print(f"{b.path}: {b.zipped / 2**20:.2f} MB zipped, {b.unzipped / 2**20:.2f} MB unzipped")
    total = (function.unzipped + layer.unzipped) / 2**20
    print(f"function + layer unzipped: {total:.2f} MB (limits: 50 MB zipped, 250 MB unzipped)")
    if layer.zipped > ZIPPED_LIMIT:
        print("note: the layer is over 50 MB zipped: publish it from S3 (sam deploy does)")
    found = problems(function, layer.unzipped)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
