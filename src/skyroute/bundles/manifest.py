"""``bundle.json``: what a bundle holds and everything needed to trust and use it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from skyroute.errors import SkyRouteError, UnknownNameError

#: What a bundle can be used for; the server's engines look models up by kind.
KINDS = (
    "placement.strategic",
    "placement.tactical",
    "forecast.load",
    "router.platform",
    "spot.interruption",
    "spot.price",
)
#: Formats whose loading runs no code from the file.
FORMATS = ("onnx", "xgboost-json", "xgboost-ubj", "lightgbm-text", "safetensors")
#: Formats that execute code when loaded (pickle-based): refused unless explicitly allowed.
UNSAFE_FORMATS = ("pickle", "joblib", "torch")
#: Outputs per row that a kind must produce (None = not fixed).
OUTPUT_WIDTH = {
    "placement.strategic": 3,
    "placement.tactical": 24,
    "forecast.load": 1,
    "router.platform": None,
    "spot.interruption": None,
    "spot.price": None,
}


class BundleError(SkyRouteError):
    """A bundle is malformed, inconsistent or does not match what it declares."""

    code = "bundle_invalid"


class UnsafeBundleError(BundleError):
    """A bundle holds files whose loading would run code (pickle, joblib, torch.save)."""

    code = "bundle_unsafe"


@dataclass(frozen=True)
class Tensor:
    """A named input or output: dtype and shape (-1 for the batch axis)."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Manifest:
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
    unsafe: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = [asdict(t) | {"shape": list(t.shape)} for t in self.inputs]
        out["outputs"] = [asdict(t) | {"shape": list(t.shape)} for t in self.outputs]
        out["features"] = list(self.features)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        """Validate ``raw`` (parsed bundle.json); every problem names the field to fix."""
        if not isinstance(raw, dict):
            raise BundleError("bundle.json must hold a JSON object", "see docs/bundles.md")
        required = ("name", "version", "kind", "format", "trained_until", "created_at")
        for key in (*required, "inputs", "outputs", "files", "model_file"):
            if key not in raw:
                raise BundleError(f"bundle.json has no '{key}'", "see docs/bundles.md for fields")
        for key in (*required, "model_file"):
            if not isinstance(raw[key], str) or not raw[key]:
                raise BundleError(f"bundle.json '{key}' must be a non-empty string", "")
        if raw["kind"] not in KINDS:
            unknown = UnknownNameError("bundle kind", raw["kind"], KINDS)
            raise BundleError(unknown.message, unknown.fix)
        if raw["format"] not in FORMATS + UNSAFE_FORMATS:
            unknown = UnknownNameError("bundle format", raw["format"], FORMATS)
            raise BundleError(unknown.message, unknown.fix)
        _check_date("trained_until", raw["trained_until"])
        _check_date("created_at", raw["created_at"])
        files = raw["files"]
        if (
            not isinstance(files, dict)
            or not files
            or not all(isinstance(v, str) and len(v) == 64 for v in files.values())
        ):
            raise BundleError(
                "bundle.json 'files' must map each file to its sha256 (64 hex digits)",
                "write bundles with skyroute.bundles.write_bundle or `skyroute bundle pack`",
            )
        if raw["model_file"] not in files:
            raise BundleError(
                f"model_file {raw['model_file']!r} is not listed in 'files'", "list it"
            )
        return cls(
            name=raw["name"],
            version=raw["version"],
            kind=raw["kind"],
            format=raw["format"],
            trained_until=raw["trained_until"],
            created_at=raw["created_at"],
            inputs=_tensors("inputs", raw["inputs"]),
            outputs=_tensors("outputs", raw["outputs"]),
            files=dict(files),
            model_file=raw["model_file"],
            features=tuple(str(f) for f in raw.get("features", ())),
            metrics=dict(raw.get("metrics", {})),
            params=dict(raw.get("params", {})),
            libraries={str(k): str(v) for k, v in dict(raw.get("libraries", {})).items()},
            code_version=str(raw.get("code_version", "")),
            data_fingerprint=str(raw.get("data_fingerprint", "")),
            normalisation=dict(raw.get("normalisation", {})),
            unsafe=bool(raw.get("unsafe", False)),
        )


def _check_date(key: str, value: str) -> None:
    try:
        (date if len(value) == 10 else datetime).fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BundleError(
            f"bundle.json '{key}' is {value!r}, not an ISO date", "write e.g. 2026-10-31"
        ) from None


def _tensors(key: str, raw: Any) -> tuple[Tensor, ...]:
    if not isinstance(raw, list) or not raw:
        raise BundleError(f"bundle.json '{key}' must be a non-empty list", "")
    out = []
    for i, item in enumerate(raw):
        try:
            shape = tuple(-1 if d is None else int(d) for d in item["shape"])
            out.append(Tensor(str(item["name"]), str(item.get("dtype", "float32")), shape))
        except (KeyError, TypeError, ValueError):
            raise BundleError(
                f"bundle.json '{key}'[{i}] needs a name and a shape (list of ints, -1 = batch)",
                "",
            ) from None
    return tuple(out)
