"""``skyroute train router``: function or container, per request, from the dataset's features.

Four model families are trained on the same split (later hours held out): RandomForest,
XGBoost, LightGBM and an MLP. The best by held-out F1 among those whose train-test accuracy gap
is under 5 % is exported: XGBoost and LightGBM in their native formats, the others as ONNX.
Feature importance is permutation importance on the held-out split (model-agnostic); the SHAP
summary uses XGBoost's exact TreeSHAP contributions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skyroute.learn.dataset import FEATURES

MAX_TRAIN_ROWS = 150_000
DOMINANCE_LIMIT = 0.40
GAP_LIMIT = 0.05


@dataclass(frozen=True)
class FamilyResult:
    name: str
    model: Any
    metrics: dict[str, Any]


def split(frame: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier hours train, later hours test; training rows subsampled for time."""
    cut = frame["timestamp_s"].max() * (1.0 - holdout)
    train, test = frame[frame["timestamp_s"] < cut], frame[frame["timestamp_s"] >= cut]
    if len(train) > MAX_TRAIN_ROWS:
        train = train.sample(MAX_TRAIN_ROWS, random_state=seed)
    if len(test) > MAX_TRAIN_ROWS:
        test = test.sample(MAX_TRAIN_ROWS, random_state=seed)
    return train, test


def _families(seed: int, positive_share: float) -> dict[str, Any]:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    balance = (1.0 - positive_share) / max(positive_share, 1e-6)
    return {
        "random_forest": RandomForestClassifier(
            n_estimators=100, max_depth=10, min_samples_leaf=20, class_weight="balanced",
            n_jobs=1, random_state=seed,
        ),
        "xgboost": xgb.XGBClassifier(
            n_estimators=200, max_depth=5, learning_rate=0.1, subsample=0.8,
            scale_pos_weight=balance, n_jobs=1, random_state=seed, tree_method="hist",
        ),
        "lightgbm": lgb.LGBMClassifier(
            n_estimators=200, num_leaves=31, learning_rate=0.05, class_weight="balanced",
            n_jobs=1, random_state=seed, verbose=-1,
        ),
        "mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=60, early_stopping=True,
                          random_state=seed),
        ),
    }  # fmt: skip


def _scores(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    probability = model.predict_proba(x)[:, 1]
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
    train: pd.DataFrame, test: pd.DataFrame, seed: int, report: Any = None
) -> list[FamilyResult]:
    x_train, y_train = (
        train[list(FEATURES)].to_numpy(np.float32),
        train["label_container"].to_numpy(),
    )
    x_test, y_test = test[list(FEATURES)].to_numpy(np.float32), test["label_container"].to_numpy()
    results = []
    families = _families(seed, float(y_train.mean()))
    for k, (name, model) in enumerate(families.items()):
        start = time.perf_counter()
        model.fit(x_train, y_train)
        held_out = _scores(model, x_test, y_test)
        train_accuracy = _scores(model, x_train, y_train)["accuracy"]
        held_out["train_accuracy"] = train_accuracy
        held_out["train_test_gap"] = train_accuracy - held_out["accuracy"]
        held_out["seconds"] = time.perf_counter() - start
        results.append(FamilyResult(name, model, held_out))
        if report is not None:
            report("router families", k + 1, len(families))
    return results


def pick(results: list[FamilyResult]) -> FamilyResult:
    """Best held-out F1 among models with a small train-test gap (else best F1 overall)."""
    fair = [r for r in results if r.metrics["train_test_gap"] < GAP_LIMIT] or results
    return max(fair, key=lambda r: (r.metrics["f1"], r.metrics["roc_auc"]))


def importance(result: FamilyResult, test: pd.DataFrame, seed: int) -> dict[str, float]:
    """Permutation importance (drop in ROC-AUC) on the held-out split, normalised to sum 1."""
    from sklearn.inspection import permutation_importance

    sample = test.sample(min(len(test), 20_000), random_state=seed)
    found = permutation_importance(
        result.model,
        sample[list(FEATURES)].to_numpy(np.float32),
        sample["label_container"].to_numpy(),
        scoring="roc_auc",
        n_repeats=3,
        random_state=seed,
        n_jobs=1,
    )
    raw = np.maximum(found.importances_mean, 0.0)
    share = raw / raw.sum() if raw.sum() > 0 else raw
    return {f: float(v) for f, v in zip(FEATURES, share, strict=True)}


def shap_summary(results: list[FamilyResult], test: pd.DataFrame, path: Path, seed: int) -> None:
    """Mean |SHAP| per feature and a per-row scatter, from XGBoost's TreeSHAP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xgboost as xgb

    model = next(r.model for r in results if r.name == "xgboost")
    sample = test.sample(min(len(test), 3000), random_state=seed)
    x = sample[list(FEATURES)].to_numpy(np.float32)
    contributions = model.get_booster().predict(xgb.DMatrix(x), pred_contribs=True)[:, :-1]
    order = np.argsort(np.abs(contributions).mean(axis=0))
    fig, ax = plt.subplots(figsize=(8, 7))
    for row, feature in enumerate(order):
        values = x[:, feature]
        spread = (values - values.min()) / (np.ptp(values) or 1.0)
        jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, len(values))
        ax.scatter(contributions[:, feature], row + jitter, c=spread, cmap="coolwarm", s=3)
    ax.set_yticks(range(len(order)), [FEATURES[i] for i in order])
    ax.axvline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("SHAP value (log-odds of 'container'); colour = feature value, low→high")
    ax.set_title("Router: SHAP summary (XGBoost TreeSHAP, held-out hours)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def export(best: FamilyResult, out_dir: Path, trained_until: str, extra: dict[str, Any]) -> Path:
    """The chosen model as a bundle: native booster format, else ONNX."""
    import tempfile

    from skyroute import __version__
    from skyroute.bundles import write_bundle

    with tempfile.TemporaryDirectory() as tmp:
        if best.name == "xgboost":
            model_file, fmt = Path(tmp) / "router.json", "xgboost-json"
            best.model.get_booster().save_model(str(model_file))
        elif best.name == "lightgbm":
            model_file, fmt = Path(tmp) / "router.txt", "lightgbm-text"
            best.model.booster_.save_model(str(model_file))
        else:
            from skl2onnx import to_onnx

            model_file, fmt = Path(tmp) / "router.onnx", "onnx"
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
            metrics={"family": best.name, **best.metrics, **extra},
            code_version=__version__,
        )
    return out_dir / "router"


def write_report(out_dir: Path, results: list[FamilyResult], best: FamilyResult,
                 importances: dict[str, float], simulated: dict[str, Any]) -> None:  # fmt: skip
    top = max(importances.items(), key=lambda kv: kv[1])
    lines = [
        "# Platform router", "",
        "| family | accuracy | precision | recall | F1 | ROC-AUC | train-test gap | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in results:
        m = r.metrics
        lines.append(
            f"| {r.name}{' (chosen)' if r is best else ''} | {m['accuracy']:.3f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['roc_auc']:.3f} | "
            f"{m['train_test_gap']:+.3f} | {m['seconds']:.1f} |"
        )
    lines += [
        "", f"Confusion matrix of {best.name} (rows: true function/container): "
        f"{best.metrics['confusion_matrix']}", "",
        f"Largest feature share: {top[0]} = {top[1]:.2f} "
        f"({'OK' if top[1] <= DOMINANCE_LIMIT else 'ABOVE'} the {DOMINANCE_LIMIT:.0%} limit).",
        "", "![importance](importance.png)", "", "![shap](shap_summary.png)", "",
        "## In the simulator (held-out hours)", "",
        "| policy | objective | cost USD | mean ms | p95 ms | error rate |",
        "|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for name, m in simulated["policies"].items():
        lines.append(
            f"| {name} | {m['objective']:.4f} | {m['cost_usd']:.4f} | "
            f"{m['latency_ms']['mean']:.1f} | {m['latency_ms']['p95']:.1f} | "
            f"{m['error_rate']:.4%} |"
        )
    lines.append(
        f"\nRouting accuracy against the counterfactual label: {simulated['routing_accuracy']:.3f}"
    )
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "metrics.json").write_text(
        json.dumps({"families": {r.name: r.metrics for r in results}, "chosen": best.name,
                    "importance": importances, "simulator": simulated}, indent=2),
        encoding="utf-8",
    )  # fmt: skip
