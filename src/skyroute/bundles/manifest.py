"""``bundle.json``: what a bundle holds and everything needed to trust and use it.

The manifest is validated field by field when read, and every problem names the field and says
how to fix it, because the person reading the error is usually uploading someone else's model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from skyroute.bundles.errors import BundleError, UnsafeBundleError
from skyroute.bundles.reference import check_reference
from skyroute.errors import UnknownNameError

__all__ = [
    "FORMATS",
    "KINDS",
    "OUTPUT_WIDTHS",
    "UNSAFE_FORMATS",
    "BundleError",
    "Manifest",
    "Tensor",
    "UnsafeBundleError",
]

#: What a bundle can be used for; the server's engines look models up by kind.
KINDS = (
    "placement.strategic",
    "placement.tactical",
    "forecast.load",
    "router.platform",
    "spot.interruption",
    "spot.price",
    "classifier.burst",
)
#: Formats whose loading runs no code from the file.
FORMATS = ("onnx", "xgboost-json", "xgboost-ubj", "lightgbm-text", "safetensors")
#: Formats that execute code when loaded (pickle-based): named so that they are refused as
#: unsafe rather than as unknown, and never loaded by SkyRoute.
UNSAFE_FORMATS = ("pickle", "joblib", "torch")
#: Values per row each kind must output (None: not fixed by the kind).
OUTPUT_WIDTHS: dict[str, tuple[int, ...] | None] = {
    "placement.strategic": (3,),  # one score per provider
    "placement.tactical": (8,),  # a provider's candidates, best expected objective first
    # Calls per minute over the next 12 minutes (skyroute.bundles.forecaster.HORIZON), or
    # the next minute only (bundles from before the 12-step forecaster; the server still
    # reads them, the Forecaster API refuses them).
    "forecast.load": (1, 12),
    "router.platform": (1, 2),  # P(container), or (P(function), P(container))
    "spot.interruption": (1, 2),  # P(interrupted), or both classes
    "spot.price": None,  # any horizon
    # P(a burst of calls in the coming minutes) from a function's recent calls per minute
    # (the sweepable LSTM burst classifier, skyroute.experiments.trainers.lstm_burst).
    "classifier.burst": (1,),
}
DTYPES = ("float32", "float64", "float16", "int64", "int32", "bool")
REQUIRED = ("name", "version", "kind", "format", "trained_until", "created_at")
OPTIONAL = (
    "model_file",
    "features",
    "metrics",
    "params",
    "libraries",
    "code_version",
    "data_fingerprint",
    "normalisation",
    "observation",
    "reference",
    "unsafe",
)
FIELDS = (*REQUIRED, "inputs", "outputs", "files", *OPTIONAL)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOCS = "see docs/bundles.md"


@dataclass(frozen=True)
class Tensor:
    """A named input or output: dtype and shape (-1 where the size varies, e.g. the batch)."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Manifest:
    """The parsed, validated ``bundle.json``; build one with :meth:`from_dict`."""

    name: str
    version: str
    kind: str
    format: str
    trained_until: str
    created_at: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    files: dict[str, str]
    model_file: str
    features: tuple[str, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    code_version: str = ""
    data_fingerprint: str = ""
    normalisation: dict[str, Any] = field(default_factory=dict)
    #: The observation contract the model was trained on ({name, version}; the column names
    #: are ``features``), for kinds whose input is an environment's observation.
    observation: dict[str, Any] = field(default_factory=dict)
    #: The training inputs' distribution ({n, features: {name: {quantiles, sample}}}), what
    #: the server's input drift compares with (``skyroute.bundles.reference``); {} for none.
    reference: dict[str, Any] = field(default_factory=dict)
    unsafe: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, not tuples), the inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["inputs"] = [asdict(t) | {"shape": list(t.shape)} for t in self.inputs]
        out["outputs"] = [asdict(t) | {"shape": list(t.shape)} for t in self.outputs]
        out["features"] = list(self.features)
        if not self.reference:  # bundles without one read and write as they always did
            del out["reference"]
        return out

    def to_json(self) -> str:
        """Stable text (sorted keys) so that the same model gives the same bundle bytes."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"bundle.json is not valid JSON ({exc})", "fix the file") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        """Validate ``raw`` (parsed bundle.json); every problem names the field to fix."""
        if not isinstance(raw, dict):
            raise BundleError("bundle.json must hold a JSON object", _DOCS)
        _check_keys(raw)
        for key in REQUIRED:
            _string(raw, key)
        _check_choice(raw)
        _check_date("trained_until", raw["trained_until"], date_only=True)
        _check_date("created_at", raw["created_at"], date_only=False)
        files = _files(raw["files"])
        inputs, outputs = _tensors("inputs", raw["inputs"]), _tensors("outputs", raw["outputs"])
        features = _features(raw.get("features", []), inputs)
        return cls(
            name=raw["name"],
            version=raw["version"],
            kind=raw["kind"],
            format=raw["format"],
            trained_until=raw["trained_until"],
            created_at=raw["created_at"],
            inputs=inputs,
            outputs=outputs,
            files=files,
            model_file=_model_file(raw.get("model_file"), files),
            features=features,
            metrics=_mapping(raw, "metrics"),
            params=_mapping(raw, "params"),
            libraries={
                str(k): _str_value("libraries", k, v) for k, v in _mapping(raw, "libraries").items()
            },
            code_version=_string(raw, "code_version", required=False),
            data_fingerprint=_string(raw, "data_fingerprint", required=False),
            normalisation=_normalisation(raw.get("normalisation", {}), inputs),
            observation=_observation(raw.get("observation", {}), features),
            reference=check_reference(raw.get("reference")),
            unsafe=_flag(raw.get("unsafe", False)),
        )


def _check_keys(raw: dict[str, Any]) -> None:
    for key in raw:
        if key not in FIELDS:
            unknown = UnknownNameError("bundle.json field", str(key), FIELDS)
            raise BundleError(unknown.message, unknown.fix)
    for key in (*REQUIRED, "inputs", "outputs", "files"):
        if key not in raw:
            raise BundleError(f"bundle.json has no '{key}'", f"add it; {_DOCS}")


def _string(raw: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BundleError(
            f"bundle.json '{key}' must be a non-empty string, not {value!r}",
            f'write it in quotes, e.g. "{key}": "..."',
        )
    return value


def _str_value(key: str, name: Any, value: Any) -> str:
    if not isinstance(value, str):
        raise BundleError(f"bundle.json '{key}'[{name!r}] must be a string", 'e.g. "2.1.3"')
    return value


def _check_choice(raw: dict[str, Any]) -> None:
    if raw["kind"] not in KINDS:
        unknown = UnknownNameError("bundle kind", raw["kind"], KINDS)
        raise BundleError(f"bundle.json 'kind': {unknown.message}", unknown.fix)
    if raw["format"] not in FORMATS + UNSAFE_FORMATS:
        unknown = UnknownNameError("bundle format", raw["format"], FORMATS)
        raise BundleError(f"bundle.json 'format': {unknown.message}", unknown.fix)


def _check_date(key: str, value: str, *, date_only: bool) -> None:
    try:
        if date_only:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        example = "2026-10-31" if date_only else "2026-11-01T12:00:00+00:00"
        raise BundleError(
            f"bundle.json '{key}' is {value!r}, not an ISO {'date' if date_only else 'time'}",
            f"write e.g. {example}",
        ) from None


def _files(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise BundleError(
            "bundle.json 'files' must map each file's relative path to its sha256",
            "write bundles with skyroute.bundles.write_bundle",
        )
    for name, digest in raw.items():
        check_file_name("files", name)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BundleError(
                f"bundle.json 'files'[{name!r}] must be a sha256 (64 lowercase hex digits)",
                f"compute it with `sha256sum {name}`",
            )
    return dict(raw)


def check_file_name(key: str, name: Any) -> None:
    """File names are joined to the bundle folder, so they must not be able to leave it.

    ``key`` is the bundle.json field the name came from, for the error message.
    """
    path = PurePosixPath(name) if isinstance(name, str) else None
    if (
        path is None
        or not name
        or "\\" in name
        or path.is_absolute()
        or ".." in path.parts
        or name in ("bundle.json", ".")
        or any(part in ("", ".") for part in name.split("/"))
    ):
        raise BundleError(
            f"bundle.json '{key}' names {name!r}, not a plain relative path inside the bundle",
            "use paths like 'model.onnx' or 'extra/vocab.json' (no '..', '/', '\\' or '.')",
        )


def _model_file(raw: Any, files: dict[str, str]) -> str:
    if raw is None:
        if len(files) == 1:
            return next(iter(files))
        raise BundleError(
            "bundle.json has no 'model_file' and 'files' lists several files",
            "name the file the model loads from in 'model_file'",
        )
    if not isinstance(raw, str) or raw not in files:
        raise BundleError(f"bundle.json 'model_file' {raw!r} is not listed in 'files'", "list it")
    return raw


def _tensors(key: str, raw: Any) -> tuple[Tensor, ...]:
    fix = f'e.g. [{{"name": "x", "dtype": "float32", "shape": [-1, 8]}}]; {_DOCS}'
    if not isinstance(raw, list) or not raw:
        raise BundleError(f"bundle.json '{key}' must be a non-empty list", fix)
    out: list[Tensor] = []
    for i, item in enumerate(raw):
        where = f"bundle.json '{key}'[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BundleError(f"{where} needs a 'name'", fix)
        dtype = item.get("dtype", "float32")
        if dtype not in DTYPES:
            unknown = UnknownNameError("dtype", str(dtype), DTYPES)
            raise BundleError(f"{where}: {unknown.message}", unknown.fix)
        shape = item.get("shape")
        if not isinstance(shape, list) or not shape or not all(_is_dim(d) for d in shape):
            raise BundleError(
                f"{where} 'shape' is {shape!r}; it must list positive sizes, -1 or null",
                "use -1 (or null) for the batch axis, e.g. [-1, 8]",
            )
        out.append(Tensor(item["name"], dtype, tuple(-1 if d is None else int(d) for d in shape)))
        if extra := set(item) - {"name", "dtype", "shape"}:
            raise BundleError(
                f"{where} has unknown keys {sorted(extra)}", "keep name, dtype, shape"
            )
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise BundleError(f"bundle.json '{key}' repeats a name: {names}", "name each one once")
    return tuple(out)


def _is_dim(d: Any) -> bool:
    return d is None or (isinstance(d, int) and not isinstance(d, bool) and (d == -1 or d > 0))


def _features(raw: Any, inputs: tuple[Tensor, ...]) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(f, str) and f for f in raw):
        raise BundleError("bundle.json 'features' must be a list of names", 'e.g. ["cpu", "mem"]')
    if len(set(raw)) != len(raw):
        raise BundleError("bundle.json 'features' repeats a name", "name each column once")
    width = inputs[0].shape[-1]
    if raw and width != -1 and len(raw) != width:
        raise BundleError(
            f"bundle.json lists {len(raw)} features but input {inputs[0].name!r} has {width}",
            "list one feature name per input column, in column order",
        )
    return tuple(raw)


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise BundleError(f"bundle.json '{key}' must be an object", f'e.g. "{key}": {{}}')
    return dict(value)


def _normalisation(raw: Any, inputs: tuple[Tensor, ...]) -> dict[str, Any]:
    """``{mean, std}`` per input column, applied before the model; checked so it cannot NaN."""
    if not isinstance(raw, dict):
        raise BundleError(
            "bundle.json 'normalisation' must be an object", '{"mean": [...], "std": [...]}'
        )
    if not raw:
        return {}
    fix = "give 'mean' and 'std' as lists of finite numbers, one per input column, std > 0"
    mean, std = raw.get("mean"), raw.get("std")
    if set(raw) != {"mean", "std"} or not isinstance(mean, list) or not isinstance(std, list):
        raise BundleError("bundle.json 'normalisation' needs exactly 'mean' and 'std'", fix)
    numbers = [*mean, *std]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise BundleError("bundle.json 'normalisation' holds non-numbers", fix)
    if not all(math.isfinite(v) for v in numbers) or any(v <= 0 for v in std):
        raise BundleError("bundle.json 'normalisation' has non-finite values or std <= 0", fix)
    width = inputs[0].shape[-1]
    if len(mean) != len(std) or (width != -1 and len(mean) != width):
        raise BundleError(
            f"bundle.json 'normalisation' has {len(mean)} means and {len(std)} stds "
            f"for {width} input columns",
            fix,
        )
    return {"mean": list(mean), "std": list(std)}


def _observation(raw: Any, features: tuple[str, ...]) -> dict[str, Any]:
    """``{name, version}`` of the observation layout the inputs follow; needs ``features``."""
    fix = 'e.g. "observation": {"name": "tactical", "version": 1}, with "features" listed'
    if not isinstance(raw, dict):
        raise BundleError("bundle.json 'observation' must be an object", fix)
    if not raw:
        return {}
    name, version = raw.get("name"), raw.get("version")
    if set(raw) != {"name", "version"} or not isinstance(name, str) or not name:
        raise BundleError("bundle.json 'observation' needs exactly 'name' and 'version'", fix)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(
            f"bundle.json 'observation' version must be a positive integer, not {version!r}", fix
        )
    if not features:
        raise BundleError(
            "bundle.json names an 'observation' but lists no 'features'",
            "list the observation's feature names, one per input column",
        )
    return {"name": name, "version": version}


def _flag(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise BundleError("bundle.json 'unsafe' must be true or false", "or leave it out")
    return raw
