"""Tiny real models written as bundles, shared by bundle and server tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skyroute.bundles import pack_bundle, write_bundle
from skyroute.world.observations import contract_for_kind
from skyroute.world.providers import PROVIDER_ORDER

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)


def _io(n_in: int, n_out: int) -> dict[str, Any]:
    return {
        "inputs": [{"name": "x", "shape": [-1, n_in]}],
        "outputs": [{"name": "y", "shape": [-1, n_out]}],
    }


def mlp_bundle(
    out: Path,
    kind: str = "placement.strategic",
    n_in: int = 4,
    n_out: int = 3,
    seed: int = 0,
    version: str = "1",
    bias: list[float] | None = None,
    contract: bool = True,
    reference: dict[str, Any] | None = None,
) -> Path:
    """A safetensors MLP; ``bias`` on the last layer steers which output wins.

    ``reference`` is the training reference written into the manifest (see
    :func:`profile_reference` for one over the /decide profile fields).

    A placement kind carries the server's observation contract (``n_in`` must then be its
    width: 50 strategic, 115 tactical) unless ``contract`` is False (a bundle from before
    contracts existed).
    """
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {
        "layers.0.weight": rng.normal(size=(8, n_in)).astype(np.float32),
        "layers.0.bias": np.zeros(8, dtype=np.float32),
        "layers.1.weight": (0.01 * rng.normal(size=(n_out, 8))).astype(np.float32),
        "layers.1.bias": np.asarray(bias or [0.0] * n_out, dtype=np.float32),
    }
    model = out.parent / f"{out.name}-model.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(model))
    observation = contract_for_kind(kind, PROVIDER_ORDER) if contract else None
    write_bundle(
        out, name="mlp", version=version, kind=kind, format="safetensors",
        trained_until="2026-10-31", model_file=model, **_io(n_in, n_out),
        features=observation.features if observation else (),
        observation=observation.manifest_entry() if observation else None,
        reference=reference,
    )  # fmt: skip
    return out


def profile_sample(n: int, seed: int = 0, shift: float = 1.0) -> dict[str, np.ndarray]:
    """``n`` function profiles (duration_ms, memory_mb, payload_kb, rate_per_min), each field
    log-normal; ``shift`` multiplies every value (1: the training distribution)."""
    rng = np.random.default_rng(seed)
    return {
        "duration_ms": shift * rng.lognormal(np.log(120.0), 0.5, n),
        "memory_mb": shift * rng.lognormal(np.log(180.0), 0.3, n),
        "payload_kb": shift * rng.lognormal(np.log(4.0), 0.6, n),
        "rate_per_min": shift * rng.lognormal(np.log(30.0), 0.5, n),
    }


def profile_reference(n: int = 5_000, seed: int = 0) -> dict[str, Any]:
    """A training reference over the /decide profile fields (what a hierarchy export writes)."""
    from skyroute.bundles.reference import input_reference

    return input_reference(profile_sample(n, seed), seed=seed)


def onnx_bundle(out: Path) -> tuple[Path, Any]:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, Y)
    model = out.parent / "router.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(to_onnx(clf, X[:1], options={"zipmap": False}).SerializeToString())
    write_bundle(
        out, name="router", version="1", kind="router.platform", format="onnx",
        trained_until="2026-10-31", model_file=model, **_io(4, 2),
    )  # fmt: skip
    return out, clf


def xgboost_bundle(out: Path, suffix: str = "json") -> tuple[Path, Any]:
    import xgboost as xgb

    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, label=X[:, 0]), 5)
    model = out.parent / f"forecast.{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model))
    fmt = "xgboost-json" if suffix == "json" else "xgboost-ubj"
    write_bundle(
        out, name="forecast", version="1", kind="forecast.load", format=fmt,
        trained_until="2026-10-31", model_file=model, **_io(4, 1),
    )  # fmt: skip
    return out, booster


def lightgbm_bundle(out: Path) -> tuple[Path, Any]:
    import lightgbm as lgb

    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
        lgb.Dataset(X, label=Y),
        num_boost_round=5,
    )
    model = out.parent / "spot.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model))
    write_bundle(
        out, name="spot", version="1", kind="spot.interruption", format="lightgbm-text",
        trained_until="2026-10-31", model_file=model, **_io(4, 1),
    )  # fmt: skip
    return out, booster


def spot_model_zip(tmp_path: Path, trained_until: str) -> Path:
    """A small real LightGBM interruption model over the server's spot features."""
    import lightgbm as lgb

    from skyroute.market.spot_features import INTERRUPTION_FEATURES

    n = len(INTERRUPTION_FEATURES)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, n)).astype(np.float32)
    y = (x[:, 0] + rng.normal(scale=0.5, size=300) > 0).astype(np.int64)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=5)
    model = tmp_path / "spot.txt"
    booster.save_model(str(model))
    folder = tmp_path / "spot-bundle"
    write_bundle(
        folder, name="spot", version="1", kind="spot.interruption", format="lightgbm-text",
        trained_until=trained_until, model_file=model, features=INTERRUPTION_FEATURES,
        inputs=[{"name": "x", "shape": [-1, n]}], outputs=[{"name": "y", "shape": [-1, 1]}],
    )  # fmt: skip
    return pack_bundle(folder, tmp_path / "spot.zip")


def memory_router_bundle(out: Path, threshold: float = 0.5) -> Path:
    """A ``router.platform`` bundle on ``router.window/1`` whose P(container) is
    ``0.25 * log_memory_mb - 0.2``: 0.33 for a 128 MB function, 0.67 at 3 GB."""
    from safetensors.numpy import save_file

    from skyroute.bundles.router_request import FEATURE_SET, FEATURES

    weight = np.zeros((2, len(FEATURES)), dtype=np.float32)
    weight[1, FEATURES.index("log_memory_mb")] = 0.25
    model = out.parent / f"{out.name}-model.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {"layers.0.weight": weight, "layers.0.bias": np.asarray([0.0, -0.2], np.float32)},
        str(model),
    )
    write_bundle(
        out, name="router", version="1", kind="router.platform", format="safetensors",
        trained_until="2026-10-31", model_file=model, features=FEATURES,
        params={"threshold": threshold, "feature_set": FEATURE_SET}, **_io(len(FEATURES), 2),
    )  # fmt: skip
    return out


#: The seed's raw router request (what the Lambda handler and ``/route`` take): a lightweight
#: API with a small payload at medium load in business hours.
SEED_REQUEST = {
    "workload_type": "lightweight_api",
    "payload_size_kb": 10,
    "time_window": "business_hours",
    "load_pattern": "medium",
    "timestamp": "2026-11-29T14:30:00Z",
}
