"""Calls per minute over the next 12 minutes of a function, from a ``forecast.load`` bundle.

The stable API that predictive autoscaling and the hierarchy call (docs/learn.md). It needs
the bundle and ONNX Runtime only -- no PyTorch, nothing of ``skyroute.learn`` -- so the server
and a scaler can import it.

A history shorter than the model's window is refused, not padded: zeros would tell the model
the function was idle, which a caller who is missing data did not mean. A caller whose function
really was idle (it is new) pads with zeros itself. Longer histories are cut to their last
``window`` minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyroute.bundles.errors import BundleError
from skyroute.bundles.verify import read_bundle
from skyroute.errors import ConfigError

if TYPE_CHECKING:
    from skyroute.bundles.manifest import Manifest
    from skyroute.bundles.predict import Predictor

#: Minutes ahead a forecaster predicts: calls per minute at t+1 .. t+HORIZON.
HORIZON = 12
KIND = "forecast.load"
_HISTORY_FIX = "pass per-minute call counts, oldest first, finite and >= 0"


class Forecaster:
    """A loaded ``forecast.load`` model: ``window`` minutes of counts in, ``HORIZON`` out."""

    def __init__(self, predictor: Predictor, window: int) -> None:
        self.predictor = predictor
        self.window = window

    @classmethod
    def from_bundle(cls, path: Path | str) -> Forecaster:
        """Read, verify and load the bundle folder at ``path``; refuse other kinds, and the
        one-step ``forecast.load`` bundles written before the 12-minute horizon."""
        bundle = read_bundle(Path(path))
        _check_manifest(bundle.manifest)  # before loading: a wrong kind is refused cheaply
        return cls.from_loaded(bundle.manifest, bundle.predictor())

    @classmethod
    def from_loaded(cls, manifest: Manifest, predictor: Predictor) -> Forecaster:
        """A forecaster over a bundle already read and loaded (the server's model cache), with
        the same checks as :meth:`from_bundle`."""
        _check_manifest(manifest)
        window = predictor.n_features or manifest.inputs[0].shape[-1]
        if window < 1:
            raise BundleError(
                f"{manifest.name} {manifest.version} does not say how many minutes it reads",
                "declare input 'x' with shape [-1, 12] in bundle.json",
            )
        return cls(predictor, window)

    def forecast(self, history: ArrayLike) -> NDArray[np.float64]:
        """Calls per minute for the next ``HORIZON`` minutes of one function, shape [12]."""
        series = _as_array(history)
        if series.ndim != 1:
            raise ConfigError(
                f"forecast() takes one function's history (1-D), got shape {series.shape}",
                "use forecast_batch() for several functions",
            )
        steps: NDArray[np.float64] = self.forecast_batch(series[None, :])[0]
        return steps

    def forecast_batch(self, histories: ArrayLike) -> NDArray[np.float64]:
        """Calls per minute for the next ``HORIZON`` minutes, shape [n, 12], from [n, w >= 12]."""
        rows = _as_array(histories)
        if rows.ndim != 2:
            raise ConfigError(
                f"forecast_batch() takes a [functions, minutes] matrix, got shape {rows.shape}",
                "stack one history per function as a row",
            )
        _check_history(rows, self.window)
        if rows.shape[0] == 0:
            return np.zeros((0, HORIZON))
        x = rows[:, -self.window :].astype(np.float32)
        out = np.asarray(self.predictor.predict(x), dtype=np.float64)
        if out.shape != (rows.shape[0], HORIZON):
            raise BundleError(
                f"the forecaster returned shape {out.shape} for {rows.shape[0]} histories",
                f"re-export the model with output [n, {HORIZON}]",
            )
        if not np.isfinite(out).all():
            raise BundleError(
                "the forecaster returned NaN or infinity", "retrain it; check its training loss"
            )
        return np.maximum(out, 0.0)


def _check_manifest(manifest: Manifest) -> None:
    if manifest.kind != KIND:
        raise BundleError(
            f"{manifest.name} {manifest.version} is a {manifest.kind} bundle, not {KIND}",
            "pass the forecast/ bundle written by `skyroute train hierarchy`",
        )
    steps = manifest.outputs[-1].shape[-1]
    if steps != HORIZON:
        raise BundleError(
            f"{manifest.name} {manifest.version} forecasts {steps} minute(s) ahead; "
            f"the forecaster API gives {HORIZON}",
            "retrain it with `skyroute train hierarchy`, which writes 12-step forecasters",
        )


def _as_array(values: ArrayLike) -> NDArray[np.float64]:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the history is not numeric ({exc})", _HISTORY_FIX) from None


def _check_history(rows: NDArray[np.float64], window: int) -> None:
    """Refuse histories a forecast from which would mean nothing: short, NaN or negative."""
    if rows.shape[1] < window:
        raise ConfigError(
            f"the forecaster needs the last {window} minutes, got {rows.shape[1]}",
            f"pass at least {window} per-minute counts (zeros for minutes before a new "
            "function existed)",
        )
    if not np.isfinite(rows).all():
        raise ConfigError("the history holds NaN or infinity", _HISTORY_FIX)
    if (rows < 0).any():
        raise ConfigError("the history holds negative counts", _HISTORY_FIX)
