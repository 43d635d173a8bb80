"""``skyroute train router``: function or container, per function and window, from the dataset.

The chosen families (RandomForest, XGBoost, LightGBM and an MLP by default) are trained on the
same split: windows of the earlier hours train, windows of the held-out later hours test. The
best by held-out F1 among those whose train-test accuracy gap is under 5 % is exported:
XGBoost and LightGBM in their native formats, the others as ONNX. Feature importance is
permutation importance on the held-out windows (model-agnostic), checked against a 40 %
dominance limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skyroute.learn.dataset import FEATURES

MAX_TRAIN_ROWS = 150_000
#: Windows where containers win are weighted (negatives / positives) ** this: full balancing
#: (1.0) bought recall with precision and lost F1 (LightGBM on the default trace: F1 0.308 at
#: 1.0, 0.352 at 0.75, 0.327 at 0.5).
POSITIVE_WEIGHT_POWER = 0.75
DOMINANCE_LIMIT = 0.40
GAP_LIMIT = 0.05
Report = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FamilyResult:
    name: str
    model: Any
    metrics: dict[str, Any]
    #: P(container) of the held-out windows (ROC curves).
    held_out_probability: np.ndarray


def split(frame: pd.DataFrame, cut_s: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Windows before ``cut_s`` train, the later ones test; each capped at MAX_TRAIN_ROWS."""
    train, test = frame[frame["start_s"] < cut_s], frame[frame["start_s"] >= cut_s]
    if len(train) > MAX_TRAIN_ROWS:
        train = train.sample(MAX_TRAIN_ROWS, random_state=seed)
    if len(test) > MAX_TRAIN_ROWS:
        test = test.sample(MAX_TRAIN_ROWS, random_state=seed)
    return train, test


def matrix(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(FEATURES)].to_numpy(np.float32)


def _families(names: Sequence[str], seed: int) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, Any] = {}
    for name in names:
        if name == "random_forest":
            out[name] = RandomForestClassifier(
                n_estimators=100, max_depth=10, min_samples_leaf=20, n_jobs=1,
                random_state=seed,
            )  # fmt: skip
        elif name == "xgboost":
            import xgboost as xgb

            out[name] = xgb.XGBClassifier(
                n_estimators=200, max_depth=4, learning_rate=0.05, subsample=0.8,
                colsample_bytree=0.8, n_jobs=1, random_state=seed, tree_method="hist",
            )  # fmt: skip
        elif name == "lightgbm":
            import lightgbm as lgb

            out[name] = lgb.LGBMClassifier(
                n_estimators=200, num_leaves=15, learning_rate=0.05, min_child_samples=40,
                subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1,
                random_state=seed, verbose=-1,
            )  # fmt: skip
        else:
            out[name] = make_pipeline(
                StandardScaler(),
                MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=60, early_stopping=True,
                              random_state=seed),
            )  # fmt: skip
    return out


def positive_weight(y: np.ndarray) -> float:
    share = float(np.mean(y))
    return float(((1.0 - share) / max(share, 1e-6)) ** POSITIVE_WEIGHT_POWER)


def _fit(name: str, model: Any, x: np.ndarray, y: np.ndarray) -> None:
    """Every family sees the same sample weights (the MLP's through its pipeline)."""
    weight = np.where(y == 1, positive_weight(y), 1.0)
    if name == "mlp":
        model.fit(x, y, mlpclassifier__sample_weight=weight)
    else:
        model.fit(x, y, sample_weight=weight)


def _scores(probability: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    predicted = (probability >= 0.5).astype(int)
    return {
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(y, probability))
        if len(set(y)) > 1
        else float("nan"),
        "confusion_matrix": metrics.confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
    }


def train_families(
    names: Sequence[str],
    train: pd.DataFrame,
    test: pd.DataFrame,
    seed: int,
    report: Report | None = None,
) -> list[FamilyResult]:
    x_train, y_train = matrix(train), train["label_container"].to_numpy()
    x_test, y_test = matrix(test), test["label_container"].to_numpy()
    results = []
    families = _families(names, seed)
    for k, (name, model) in enumerate(families.items()):
        start = time.perf_counter()
        _fit(name, model, x_train, y_train)
        probability = model.predict_proba(x_test)[:, 1]
        held_out = _scores(probability, y_test)
        train_accuracy = _scores(model.predict_proba(x_train)[:, 1], y_train)["accuracy"]
        held_out["train_accuracy"] = train_accuracy
        held_out["train_test_gap"] = train_accuracy - held_out["accuracy"]
        held_out["seconds"] = time.perf_counter() - start
        results.append(FamilyResult(name, model, held_out, probability))
        if report is not None:
            report("router families", k + 1, len(families))
    return results


def pick(results: list[FamilyResult]) -> FamilyResult:
    """Best held-out F1 among models with a small train-test gap (else best F1 overall)."""
    fair = [r for r in results if r.metrics["train_test_gap"] < GAP_LIMIT] or results
    return max(fair, key=lambda r: (r.metrics["f1"], r.metrics["roc_auc"]))


def importance(result: FamilyResult, test: pd.DataFrame, seed: int) -> dict[str, float]:
    """Permutation importance (drop in ROC-AUC) on the held-out windows, normalised to sum 1."""
    from sklearn.inspection import permutation_importance

    sample = test.sample(min(len(test), 20_000), random_state=seed)
    labels = sample["label_container"].to_numpy()
    if len(set(labels)) < 2:
        return dict.fromkeys(FEATURES, 0.0)
    found = permutation_importance(
        result.model, matrix(sample), labels, scoring="roc_auc", n_repeats=3,
        random_state=seed, n_jobs=1,
    )  # fmt: skip
    raw = np.maximum(found.importances_mean, 0.0)
    share = raw / raw.sum() if raw.sum() > 0 else raw
    return {f: float(v) for f, v in zip(FEATURES, share, strict=True)}


def hyper_parameters(result: FamilyResult) -> dict[str, Any]:
    """The chosen estimator's own parameters, JSON-safe (an MLP's are its classifier's)."""
    model = result.model[-1] if result.name == "mlp" else result.model
    out: dict[str, Any] = {}
    for key, value in sorted(model.get_params(deep=False).items()):
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, float) and not np.isfinite(value):
            continue
        if value is None or isinstance(value, bool | int | float | str | list):
            out[key] = value
    return out


def libraries_used(names: Sequence[str], exported_format: str) -> dict[str, str]:
    """Versions of the libraries the run used: always NumPy and scikit-learn (metrics)."""
    import sklearn

    out = {"numpy": np.__version__, "scikit-learn": sklearn.__version__}
    if "xgboost" in names:
        import xgboost

        out["xgboost"] = xgboost.__version__
    if "lightgbm" in names:
        import lightgbm

        out["lightgbm"] = lightgbm.__version__
    if exported_format == "onnx":
        import onnx
        import skl2onnx

        out["skl2onnx"], out["onnx"] = skl2onnx.__version__, onnx.__version__
    return out


def export_format(best: FamilyResult) -> str:
    return {"xgboost": "xgboost-json", "lightgbm": "lightgbm-text"}.get(best.name, "onnx")


def export(
    best: FamilyResult,
    out_dir: Path,
    *,
    trained_until: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    libraries: dict[str, str],
    data_fingerprint: str,
    reference: dict[str, Any] | None = None,
) -> Path:
    """The chosen model as a bundle: native booster format, else ONNX."""
    import tempfile

    from skyroute import __version__
    from skyroute.bundles import write_bundle

    fmt = export_format(best)
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "xgboost-json":
            model_file = Path(tmp) / "router.json"
            best.model.get_booster().save_model(str(model_file))
        elif fmt == "lightgbm-text":
            model_file = Path(tmp) / "router.txt"
            best.model.booster_.save_model(str(model_file))
        else:
            from skl2onnx import to_onnx

            model_file = Path(tmp) / "router.onnx"
            onnx_model = to_onnx(
                best.model,
                np.zeros((1, len(FEATURES)), dtype=np.float32),
                options={id(best.model): {"zipmap": False}},
            )
            model_file.write_bytes(onnx_model.SerializeToString())
        width = 1 if fmt in ("xgboost-json", "lightgbm-text") else 2
        write_bundle(
            out_dir / "router",
            name="router",
            version="1",
            kind="router.platform",
            format=fmt,
            trained_until=trained_until,
            model_file=model_file,
            inputs=[{"name": "x", "shape": [-1, len(FEATURES)]}],
            outputs=[{"name": "p_container", "shape": [-1, width]}],
            features=FEATURES,
            metrics={"family": best.name, **best.metrics, **metrics},
            params=params,
            libraries=libraries,
            code_version=__version__,
            data_fingerprint=data_fingerprint,
            reference=reference,
        )
    return out_dir / "router"
