"""Inference for each safe format, one thread per call (the server runs many workers).

Every predictor takes a float32 matrix ``(n, n_features)`` and returns an ``(n,)`` or
``(n, k)`` array. Heavy libraries are imported inside the constructors so that
``import skyroute.bundles`` stays cheap and a server without LightGBM still serves ONNX.

The safetensors convention is a plain MLP: tensors ``layers.{i}.weight`` of shape
``(out, in)`` and ``layers.{i}.bias`` of shape ``(out,)`` for i = 0, 1, ...; ReLU between
layers, none after the last. It is evaluated in NumPy, so no deep-learning stack is needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from skyroute.bundles.errors import BundleError, UnsafeBundleError
from skyroute.bundles.manifest import Manifest

__all__ = [
    "LOADERS",
    "LightGBMPredictor",
    "OnnxPredictor",
    "Predictor",
    "SafetensorsMLP",
    "XGBoostPredictor",
    "load_predictor",
]

_LAYER = re.compile(r"layers\.(\d+)\.(weight|bias)")


class Predictor(Protocol):
    """What the server and the policies call; implementations hold one loaded model."""

    @property
    def n_features(self) -> int | None:
        """Input columns the model takes (None when the model does not say)."""
        ...

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        """Scores for each row of the float32 matrix ``x`` of shape ``(n, n_features)``."""
        ...


def _matrix(x: NDArray[Any], n_features: int | None) -> NDArray[np.float32]:
    """Callers' arrays checked here, so a wrong shape is a clear error, not a C++ trace."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2 or (n_features is not None and arr.shape[1] != n_features):
        want = f"(n, {n_features})" if n_features is not None else "(n, n_features)"
        raise BundleError(
            f"the model takes a {want} float32 matrix, got shape {arr.shape}",
            "pass one row per item with the bundle's features in order",
        )
    return arr


class OnnxPredictor:
    """ONNX Runtime on one CPU thread; feeds the named input, returns the named output."""

    def __init__(self, path: str, input_name: str = "", output_name: str = "") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        names = [i.name for i in inputs]
        # A single input or output may be named freely in bundle.json (skl2onnx calls them
        # X / probabilities): use the graph's name then, and the last output (the scores).
        self.input = input_name if input_name in names else names[0]
        self.output = output_name if output_name in outputs else outputs[-1]
        last = inputs[names.index(self.input)].shape[-1]
        self._n_features = last if isinstance(last, int) and last > 0 else None

    @property
    def n_features(self) -> int | None:
        return self._n_features

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        arr = _matrix(x, self._n_features)
        (result,) = self.session.run([self.output], {self.input: arr})
        return np.asarray(result, dtype=np.float64)


class XGBoostPredictor:
    """An XGBoost Booster (JSON or UBJSON, told apart by content) on one thread."""

    def __init__(self, path: str) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster(params={"nthread": 1}, model_file=path)

    @property
    def n_features(self) -> int | None:
        return int(self.booster.num_features())

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        arr = _matrix(x, self.n_features)
        return np.asarray(self.booster.inplace_predict(arr), dtype=np.float64)


class LightGBMPredictor:
    """A LightGBM Booster from its text format on one thread."""

    def __init__(self, path: str) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=path)

    @property
    def n_features(self) -> int | None:
        return int(self.booster.num_feature())

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        arr = _matrix(x, self.n_features).astype(np.float64)
        return np.asarray(self.booster.predict(arr, num_threads=1), dtype=np.float64)


class SafetensorsMLP:
    """The MLP convention of the module docstring, checked layer by layer when loaded."""

    def __init__(self, path: str) -> None:
        from safetensors.numpy import load_file

        self.layers = _layers(load_file(path))

    @property
    def n_features(self) -> int | None:
        return int(self.layers[0][0].shape[1])

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        h = _matrix(x, self.n_features)
        for k, (weight, bias) in enumerate(self.layers):
            h = h @ weight.T + bias
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return np.asarray(h, dtype=np.float64)


def _layers(tensors: dict[str, NDArray[Any]]) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    fix = "save tensors layers.{i}.weight (out, in) and layers.{i}.bias (out,); see docs/bundles.md"
    stray = sorted(k for k in tensors if not _LAYER.fullmatch(k))
    if stray:
        raise BundleError(
            f"safetensors file holds tensors outside the MLP convention: {stray}", fix
        )
    layers: list[tuple[NDArray[Any], NDArray[Any]]] = []
    while f"layers.{len(layers)}.weight" in tensors:
        i = len(layers)
        weight, bias = tensors[f"layers.{i}.weight"], tensors.get(f"layers.{i}.bias")
        if bias is None or weight.ndim != 2 or bias.shape != (weight.shape[0],):
            raise BundleError(f"safetensors layer {i}: weight (out, in) needs bias (out,)", fix)
        if layers and weight.shape[1] != layers[-1][0].shape[0]:
            raise BundleError(
                f"safetensors layer {i} takes {weight.shape[1]} inputs, "
                f"layer {i - 1} gives {layers[-1][0].shape[0]}",
                fix,
            )
        if weight.dtype.kind != "f" or bias.dtype.kind != "f":
            raise BundleError(f"safetensors layer {i} is not floating point", fix)
        layers.append((weight.astype(np.float32), bias.astype(np.float32)))
    if not layers or len(layers) * 2 != len(tensors):
        raise BundleError("safetensors layers must be numbered 0, 1, ... without gaps", fix)
    return layers


class _Normalised:
    """Applies the training split's normalisation shipped in the manifest before the model."""

    def __init__(self, inner: Predictor, mean: list[float], std: list[float]) -> None:
        self.inner = inner
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @property
    def n_features(self) -> int | None:
        return self.inner.n_features

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        arr = _matrix(x, len(self.mean))
        return self.inner.predict((arr - self.mean) / self.std)


LOADERS: dict[str, Callable[[str], Predictor]] = {
    "xgboost-json": XGBoostPredictor,
    "xgboost-ubj": XGBoostPredictor,
    "lightgbm-text": LightGBMPredictor,
    "safetensors": SafetensorsMLP,
}


def load_predictor(m: Manifest, model_path: Path) -> Predictor:
    """The model a verified manifest describes, read from ``model_path``.

    Unsafe (pickle-based) bundles are never loaded here. It takes the manifest and the path
    rather than a ``Bundle`` so that this module needs nothing of ``verify`` (which calls it).
    """
    if m.unsafe:
        raise UnsafeBundleError(
            f"{m.name} {m.version} is marked unsafe (pickle-based) and is never loaded",
            "export the model to ONNX, safetensors, XGBoost JSON/UBJ or LightGBM text",
        )
    path = str(model_path)
    predictor: Predictor
    if m.format == "onnx":
        predictor = OnnxPredictor(path, m.inputs[0].name, m.outputs[-1].name)
    elif m.format in LOADERS:
        predictor = LOADERS[m.format](path)
    else:
        raise BundleError(f"format {m.format!r} cannot be served", "export to a safe format")
    if m.normalisation:
        predictor = _Normalised(predictor, m.normalisation["mean"], m.normalisation["std"])
    return predictor
