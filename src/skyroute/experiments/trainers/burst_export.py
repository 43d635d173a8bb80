"""The burst classifier as a ``classifier.burst`` bundle: ONNX (checked against PyTorch by
:func:`skyroute.learn.export.export_onnx`), raw calls per minute in, P(burst ahead) out.

The manifest carries what a reader needs to use and trust it (docs/bundles.md): the window's
minutes as features, the label's definition and the decision threshold in ``params``, the
validation metrics, library versions, the trace's fingerprint and the day training data ends.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

KIND = "classifier.burst"
NAME = "burst"


def minute_features(window: int) -> list[str]:
    """Input column names, oldest first: ``calls_t-30`` .. ``calls_t-1`` for a 30-minute window."""
    return [f"calls_t-{window - i}" for i in range(window)]


def libraries() -> dict[str, str]:
    import onnx
    import torch

    return {"torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__}


def export_burst_bundle(
    model: Any,
    out_dir: Path,
    *,
    window: int,
    probe: np.ndarray,
    version: str,
    trained_until: str,
    data_fingerprint: str,
    metrics: Mapping[str, float],
    params: Mapping[str, Any],
) -> Path:
    """Write ``model`` (a BurstNet, on the CPU) as a bundle at ``out_dir``; returns it."""
    from torch.jit._trace import TracerWarning

    from skyroute import __version__
    from skyroute.bundles import write_bundle
    from skyroute.learn.export import export_onnx

    model.eval()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # The tracer's notes on the LSTM's shape checks and batch size: the export is then
        # checked against PyTorch on real windows of several rows, which is what matters.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", TracerWarning)
        model_file = Path(tmp) / f"{NAME}.onnx"
        error = export_onnx(model, window, model_file, probe.astype(np.float32))
        write_bundle(
            out_dir,
            name=NAME,
            version=version,
            kind=KIND,
            format="onnx",
            trained_until=trained_until,
            model_file=model_file,
            inputs=[{"name": "x", "shape": [-1, window]}],
            outputs=[{"name": "y", "shape": [-1, 1]}],
            features=minute_features(window),
            metrics={**metrics, "onnx_max_abs_error": error},
            params=dict(params),
            libraries=libraries(),
            code_version=__version__,
            data_fingerprint=data_fingerprint,
        )
    return out_dir
