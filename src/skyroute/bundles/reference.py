"""The training reference: the distribution of the inputs a bundle was trained on.

A server compares what it is asked now with what the model saw in training (input drift,
``skyroute.serve.drift``), so a bundle carries, per input feature, its quantiles (the bins of
the population stability index) and a seeded sample (for a two-sample test), plus how many
rows they summarise::

    "reference": {"n": 81234, "features": {"duration_ms": {"quantiles": [...], "sample": [...]}}}

Small on purpose: at most ``MAX_VALUES`` values per feature. Old bundles have no reference (no
input drift for them, and the drift status says so); when present it is validated here, field
by field, like the rest of the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from skyroute.bundles.errors import BundleError

#: Values a feature's reference may hold at most (quantiles and sample together).
MAX_VALUES = 2_000
#: Quantiles written per feature: every 5 % (21 edges, 20 bins for the PSI).
QUANTILES = 21
#: Sample values written per feature.
SAMPLE = 1_000
#: The fields of a /decide request's function profile a placement bundle's reference covers.
PROFILE_FEATURES = ("duration_ms", "memory_mb", "payload_kb", "rate_per_min")

_FIX = (
    'write it as {"n": rows, "features": {"duration_ms": {"quantiles": [...], "sample": [...]}}}'
    " with skyroute.bundles.reference.input_reference; see docs/bundles.md"
)


def input_reference(
    columns: Mapping[str, ArrayLike], seed: int = 0, sample: int = SAMPLE
) -> dict[str, Any]:
    """The reference of ``columns`` (feature name -> one value per training row)."""
    rng = np.random.default_rng(seed)
    features: dict[str, Any] = {}
    n = 0
    for name, values in columns.items():
        array = np.asarray(values, dtype=np.float64)
        array = array[np.isfinite(array)]
        if array.size == 0:
            raise BundleError(f"the reference of {name!r} has no finite values", "check the data")
        n = max(n, int(array.size))
        picked = array if array.size <= sample else rng.choice(array, sample, replace=False)
        features[name] = {
            "quantiles": [_round(v) for v in np.quantile(array, np.linspace(0, 1, QUANTILES))],
            "sample": [_round(v) for v in np.sort(picked)],
        }
    return {"n": n, "features": features}


def _round(value: float) -> float:
    """Six significant digits: the reference is a distribution, not the data."""
    return float(f"{float(value):.6g}")


def check_reference(raw: Any) -> dict[str, Any]:
    """``raw`` (bundle.json 'reference') validated; ``{}`` when absent."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict) or set(raw) != {"n", "features"}:
        raise BundleError("bundle.json 'reference' needs exactly 'n' and 'features'", _FIX)
    n, features = raw["n"], raw["features"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BundleError(f"bundle.json 'reference' n must be a positive integer, not {n!r}", _FIX)
    if not isinstance(features, dict) or not features:
        raise BundleError("bundle.json 'reference' features must name at least one feature", _FIX)
    return {"n": n, "features": {str(k): _feature(str(k), v) for k, v in features.items()}}


def _feature(name: str, raw: Any) -> dict[str, list[float]]:
    where = f"bundle.json 'reference' feature {name!r}"
    if not isinstance(raw, dict) or not raw or set(raw) - {"quantiles", "sample"}:
        raise BundleError(f"{where} needs 'quantiles' and/or 'sample' (and nothing else)", _FIX)
    out = {key: _numbers(f"{where} {key}", value) for key, value in raw.items()}
    if sum(len(v) for v in out.values()) > MAX_VALUES:
        raise BundleError(f"{where} holds more than {MAX_VALUES} values", "keep a sample")
    quantiles = out.get("quantiles")
    if quantiles is not None and (len(quantiles) < 2 or np.any(np.diff(quantiles) < 0)):
        raise BundleError(f"{where} quantiles must be at least 2 values, non-decreasing", _FIX)
    return out


def _numbers(where: str, raw: Any) -> list[float]:
    if not isinstance(raw, list) or not raw:
        raise BundleError(f"{where} must be a non-empty list of numbers", _FIX)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise BundleError(f"{where} holds non-numbers", _FIX)
    if not all(math.isfinite(v) for v in raw):
        raise BundleError(f"{where} holds NaN or infinity", _FIX)
    return [float(v) for v in raw]
