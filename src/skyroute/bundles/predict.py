"""Inference for each safe format, one thread per call (the server runs many workers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from skyroute.bundles.manifest import BundleError
from skyroute.bundles.verify import Bundle


class Predictor(Protocol):
    def predict(self, x: NDArray[Any]) -> NDArray[Any]: ...


class _Normalised:
    """Applies the training split's normalisation shipped in the manifest before the model."""

    def __init__(self, inner: Predictor, mean: list[float], std: list[float]) -> None:
        self.inner = inner
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.maximum(np.asarray(std, dtype=np.float32), 1e-12)

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        return self.inner.predict((np.asarray(x, dtype=np.float32) - self.mean) / self.std)


class OnnxPredictor:
    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        result = self.session.run(None, {self.input: np.asarray(x, dtype=np.float32)})
        # Classifiers exported by skl2onnx give (label, probabilities): use the probabilities.
        chosen = result[-1] if len(result) > 1 else result[0]
        if isinstance(chosen, list):  # a list of {class: probability} maps
            chosen = np.asarray([[row[k] for k in sorted(row)] for row in chosen])
        return np.asarray(chosen, dtype=np.float64)


class XGBoostPredictor:
    def __init__(self, path: str) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster(params={"nthread": 1}, model_file=path)

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        return np.asarray(self.booster.inplace_predict(np.asarray(x, dtype=np.float32)))


class LightGBMPredictor:
    def __init__(self, path: str) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=path)

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        return np.asarray(self.booster.predict(np.asarray(x, dtype=np.float64), num_threads=1))


class SafetensorsMLP:
    """``layers.{i}.weight`` (out, in) and ``layers.{i}.bias``; ReLU between layers."""

    def __init__(self, path: str) -> None:
        from safetensors.numpy import load_file

        tensors = load_file(path)
        self.layers = []
        i = 0
        while f"layers.{i}.weight" in tensors:
            self.layers.append((tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"]))
            i += 1
        if not self.layers:
            raise BundleError("safetensors file has no layers.0.weight", "see docs/bundles.md")

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        h = np.asarray(x, dtype=np.float32)
        for k, (weight, bias) in enumerate(self.layers):
            h = h @ weight.T + bias
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h.astype(np.float64)


LOADERS: dict[str, Callable[[str], Predictor]] = {
    "onnx": OnnxPredictor,
    "xgboost-json": XGBoostPredictor,
    "xgboost-ubj": XGBoostPredictor,
    "lightgbm-text": LightGBMPredictor,
    "safetensors": SafetensorsMLP,
}


def load_predictor(bundle: Bundle) -> Predictor:
    """The model of ``bundle``; unsafe (pickle-based) formats are never loaded here."""
    m = bundle.manifest
    if m.format not in LOADERS:
        raise BundleError(f"format {m.format!r} cannot be served", "export to a safe format")
    if m.format == "onnx":
        import onnx

        onnx.checker.check_model(onnx.load(str(bundle.model_path)))
    predictor: Predictor = LOADERS[m.format](str(bundle.model_path))
    norm = m.normalisation
    if "mean" in norm and "std" in norm:
        predictor = _Normalised(predictor, list(norm["mean"]), list(norm["std"]))
    return predictor
