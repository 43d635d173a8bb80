"""Torch → ONNX with a proof: the exported graph must reproduce the PyTorch outputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from skyroute.errors import ConfigError

TOLERANCE = 1e-4


def export_onnx(module: object, n_inputs: int, path: Path, probe: np.ndarray) -> float:
    """Write ``module`` (input [n, n_inputs] → output [n, k]) to ``path``; max |ONNX − torch|."""
    import onnxruntime as ort
    import torch

    model = module  # a torch.nn.Module
    model.eval()  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,  # type: ignore[arg-type]
            (torch.zeros(1, n_inputs),),
            str(path),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
            dynamo=False,
        )
    with torch.no_grad():
        expected = model(torch.as_tensor(probe, dtype=torch.float32)).numpy()  # type: ignore[operator]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": probe.astype(np.float32)})[0]
    error = float(np.max(np.abs(got - expected)))
    if not error <= TOLERANCE:
        raise ConfigError(
            f"ONNX export of {path.name} differs from PyTorch by {error:.2e}",
            "report this: the model uses an operator ONNX Runtime computes differently",
        )
    return error
