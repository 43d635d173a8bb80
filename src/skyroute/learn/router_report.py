"""The router run's report: report.md, metrics.json and the plots they link."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyroute.learn.dataset import FEATURES
from skyroute.learn.router import DOMINANCE_LIMIT, FamilyResult
from skyroute.learn.router_explain import Explanation

PLOTS = {
    "roc": "roc.png",
    "confusion": "confusion_matrix.png",
    "importance": "importance.png",
    "shap": "shap_summary.png",
}


@dataclass(frozen=True)
class RouterRun:
    """Everything one ``train router`` run measured, as the report shows it."""

    config: dict[str, Any]
    dataset: dict[str, Any]
    results: list[FamilyResult]
    best: FamilyResult
    importance: dict[str, float]
    shap: Explanation
    #: Routing threshold -> objective and container share on the training hours' replay.
    calibration: list[dict[str, float]]
    threshold: float
    simulated: dict[str, Any]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_plot(results: list[FamilyResult], y: np.ndarray, path: Path) -> None:
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    for r in results:
        if len(set(y)) > 1:
            fpr, tpr, _ = roc_curve(y, r.held_out_probability)
            ax.plot(fpr, tpr, label=f"{r.name} (AUC {r.metrics['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Router: ROC per family (held-out windows)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_plot(best: FamilyResult, path: Path) -> None:
    from skyroute.report.classifier import confusion_plot as plot

    plot(
        best.metrics["confusion_matrix"],
        ("function", "container"),
        f"Router: {best.name}, held-out windows",
        path,
    )


def importance_plot(importances: dict[str, float], path: Path) -> None:
    plt = _pyplot()
    names = sorted(importances, key=importances.__getitem__)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.axvline(DOMINANCE_LIMIT, color="tab:red", ls="--", label="40 % dominance limit")
    ax.set_xlabel("share of permutation importance (held-out windows)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shap_plot(explanation: Explanation, family: str, path: Path, seed: int) -> None:
    """One row per feature (largest mean |SHAP| on top); colour = the feature's value."""
    plt = _pyplot()
    values, x = explanation.values, explanation.x
    order = np.argsort(np.abs(values).mean(axis=0))
    jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, len(x))
    fig, ax = plt.subplots(figsize=(8, 7))
    for row, feature in enumerate(order):
        column = x[:, feature]
        spread = (column - column.min()) / (np.ptp(column) or 1.0)
        ax.scatter(values[:, feature], row + jitter, c=spread, cmap="coolwarm", s=3)
    ax.set_yticks(range(len(order)), [FEATURES[i] for i in order])
    ax.axvline(0.0, color="grey", lw=0.5)
    ax.set_xlabel(
        f"SHAP value ({explanation.units} of 'container'); colour = feature value, low→high"
    )
    ax.set_title(f"Router: SHAP summary of the exported {family}\n{explanation.method}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mean_abs_shap(explanation: Explanation) -> dict[str, float]:
    mean = np.abs(explanation.values).mean(axis=0)
    return {f: float(v) for f, v in zip(FEATURES, mean, strict=True)}


def write_plots(run: RouterRun, y_test: np.ndarray, out_dir: Path, seed: int) -> None:
    roc_plot(run.results, y_test, out_dir / PLOTS["roc"])
    confusion_plot(run.best, out_dir / PLOTS["confusion"])
    importance_plot(run.importance, out_dir / PLOTS["importance"])
    shap_plot(run.shap, run.best.name, out_dir / PLOTS["shap"], seed)


def _families_table(run: RouterRun) -> list[str]:
    lines = [
        "| family | accuracy | precision | recall | F1 | ROC-AUC | train-test gap | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in run.results:
        m = r.metrics
        lines.append(
            f"| {r.name}{' (chosen)' if r is run.best else ''} | {m['accuracy']:.3f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['roc_auc']:.3f} | "
            f"{m['train_test_gap']:+.3f} | {m['seconds']:.1f} |"
        )
    return lines


def _simulator_table(run: RouterRun) -> list[str]:
    lines = [
        "| policy | objective | cost USD | mean ms | p95 ms | error rate | container share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in run.simulated["policies"].items():
        lines.append(
            f"| {name} | {m['objective']:.4f} | {m['cost_usd']:.4f} | "
            f"{m['latency_ms']['mean']:.1f} | {m['latency_ms']['p95']:.1f} | "
            f"{m['error_rate']:.4%} | {m['mix']['platform'].get('container', 0.0):.4f} |"
        )
    return lines


def write_report(run: RouterRun, out_dir: Path) -> None:
    top = max(run.importance.items(), key=lambda kv: kv[1])
    d = run.dataset
    verdict = run.simulated["verdict"]
    lines = [
        "# Platform router", "",
        f"One decision per function and {run.config['window_min']:g}-minute window. "
        f"{d['windows']:,} windows ({d['train_windows']:,} train, {d['test_windows']:,} "
        f"held out) from {d['calls']:,} calls of {d['functions']:,} functions; the container "
        f"wins {d['label_container_share']:.1%} of windows.", "",
        *_families_table(run), "",
        f"Confusion matrix of {run.best.name} (rows: label function/container; columns: "
        f"predicted): {run.best.metrics['confusion_matrix']}", "",
        f"Largest feature share: {top[0]} = {top[1]:.2f} "
        f"({'OK' if top[1] <= DOMINANCE_LIMIT else 'ABOVE'} the {DOMINANCE_LIMIT:.0%} limit).", "",
        f"![ROC]({PLOTS['roc']})", "", f"![confusion matrix]({PLOTS['confusion']})", "",
        f"![importance]({PLOTS['importance']})", "", f"![SHAP summary]({PLOTS['shap']})", "",
        "## Routing threshold (training hours, replayed)", "",
        "A window goes to containers when P(container) ≥ the threshold; the label ignores the "
        "cold start of a switch, so the threshold is the one whose replay of the training "
        f"hours has the lowest objective: **{run.threshold:g}**.", "",
        "| threshold | objective | container share of calls |", "|---:|---:|---:|",
        *(f"| {c['threshold']:g} | {c['objective']:.4f} | {c['container_share']:.4f} |"
          for c in run.calibration), "",
        "## In the simulator (held-out hours, same draws for every policy)", "",
        *_simulator_table(run), "",
        f"Routing accuracy against the window labels: {run.simulated['routing_accuracy']:.3f}. "
        f"{verdict}",
    ]  # fmt: skip
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    metrics = {
        "config": run.config,
        "dataset": run.dataset,
        "families": {r.name: r.metrics for r in run.results},
        "chosen": run.best.name,
        "importance": run.importance,
        "shap_mean_abs": mean_abs_shap(run.shap),
        "shap_method": run.shap.method,
        "threshold": run.threshold,
        "calibration": run.calibration,
        "simulator": run.simulated,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
