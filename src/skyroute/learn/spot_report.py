"""Held-out evaluation of the spot models against their baselines: figures, plots, report.json.

Interruption: Brier score, log loss and ROC-AUC of the calibrated model, the same model before
calibration, the advisor bucket's midpoint hazard over 24 h, the training base rate, and the
simulation's own probability (the best any model could do), with a 10-bin reliability curve
(bins of equal count, since nearly every probability is below 2 %). Price: MAE (USD per
instance-hour) and MAPE of the price at t + h against the last value and the seasonal forecast
(the change over the same hours a day earlier, applied to the last value).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from skyroute.learn.spot_data import Rows
from skyroute.world.providers.spot import bucket_hazard_per_hour

RELIABILITY_BINS = 10


def classification_scores(
    y: NDArray[np.float64], p: NDArray[np.float64], truth: NDArray[np.float64]
) -> dict[str, float]:
    """Scores against the drawn labels ``y``, and the distance to the simulation's ``truth``
    (free of the draws' noise, which dominates the Brier score of so rare an event)."""
    from sklearn import metrics

    clipped = np.clip(p, 1e-7, 1.0 - 1e-7)
    return {
        "brier": float(metrics.brier_score_loss(y, clipped)),
        "log_loss": float(metrics.log_loss(y, clipped, labels=[0, 1])),
        "roc_auc": float(metrics.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else math.nan,
        "mean_predicted": float(p.mean()),
        "mse_vs_true_probability": float(np.mean((p - truth) ** 2)),
    }


def reliability(y: NDArray[np.float64], p: NDArray[np.float64]) -> list[dict[str, float]]:
    """Mean predicted vs observed frequency in bins of equal count, lowest first."""
    order = np.argsort(p, kind="stable")
    return [
        {
            "mean_predicted": float(p[part].mean()),
            "observed": float(y[part].mean()),
            "count": len(part),
        }
        for part in np.array_split(order, RELIABILITY_BINS)
        if len(part)
    ]


def interruption_evaluation(
    *,
    test: Rows,
    predicted: NDArray[np.float64],
    uncalibrated: NDArray[np.float64],
    base_rate: float,
    horizon_hours: int,
) -> dict[str, Any]:
    buckets = test.extra["bucket"].astype(int)
    midpoint = np.array(
        [1.0 - math.exp(-bucket_hazard_per_hour(b) * horizon_hours) for b in range(5)]
    )[buckets]
    truth = test.extra["true_probability"]
    predictors = {
        "model": predicted,
        "model_uncalibrated": uncalibrated,
        "bucket_midpoint_hazard": midpoint,
        "base_rate": np.full(len(test.y), base_rate),
        "simulation_truth": truth,
    }
    scores = {name: classification_scores(test.y, p, truth) for name, p in predictors.items()}
    return {
        "positive_rate_test": float(test.y.mean()),
        "base_rate_train": base_rate,
        "model": scores["model"],
        "model_uncalibrated": scores["model_uncalibrated"],
        "baselines": {k: scores[k] for k in ("bucket_midpoint_hazard", "base_rate")},
        "simulation_truth": scores["simulation_truth"],
        "brier_skill_vs_base_rate": 1.0 - scores["model"]["brier"] / scores["base_rate"]["brier"],
        "reliability": reliability(test.y, predicted),
        "reliability_bucket_baseline": reliability(test.y, midpoint),
    }


def price_scores(actual: NDArray[np.float64], forecast: NDArray[np.float64]) -> dict[str, float]:
    error = np.abs(forecast - actual)
    return {"mae_usd": float(error.mean()), "mape": float((error / actual).mean())}


def price_evaluation(test: Rows, predicted: NDArray[np.float64]) -> dict[str, Any]:
    now, future = test.extra["now"], test.extra["future"]
    model = price_scores(future, now * np.exp(predicted))
    last = price_scores(future, now)
    return {
        "model": model,
        "baselines": {
            "last_value": last,
            "seasonal_24h": price_scores(future, test.extra["seasonal"]),
        },
        "mape_gain_vs_last_value": 1.0 - model["mape"] / last["mape"],
        "target": "log(price[t + h] / price[t])",
    }


def bundle_metrics(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one model for bundle.json (the full set is in report.json)."""
    return {key: evaluation[key] for key in ("model", "baselines", "rows")} | {
        k: evaluation[k] for k in ("calibration", "positive_rate_test") if k in evaluation
    }


def summary(full: dict[str, Any]) -> dict[str, Any]:
    """What the CLI prints: the headline of each model beside its baselines."""
    i, p = full["interruption"], full["price"]
    return {
        "trained_until": full["trained_until"],
        "interruption_brier": i["model"]["brier"],
        "interruption_roc_auc": i["model"]["roc_auc"],
        "bucket_baseline_brier": i["baselines"]["bucket_midpoint_hazard"]["brier"],
        "bucket_baseline_roc_auc": i["baselines"]["bucket_midpoint_hazard"]["roc_auc"],
        "base_rate_brier": i["baselines"]["base_rate"]["brier"],
        "interruption_mse_vs_truth": i["model"]["mse_vs_true_probability"],
        "bucket_baseline_mse_vs_truth": i["baselines"]["bucket_midpoint_hazard"][
            "mse_vs_true_probability"
        ],
        "simulation_truth_brier": i["simulation_truth"]["brier"],
        "price_mae_usd": p["model"]["mae_usd"],
        "price_mape": p["model"]["mape"],
        "last_value_mape": p["baselines"]["last_value"]["mape"],
        "seasonal_mape": p["baselines"]["seasonal_24h"]["mape"],
        "seconds": full["seconds"]["total"],
    }


def summary_table(s: dict[str, Any]) -> Table:
    """The CLI's table: each model's headline figure beside its baselines."""
    table = Table(title=f"spot models on held-out hours (trained until {s['trained_until']})")
    for column in ("figure", "model", "baselines"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    table.add_row(
        "P(interrupted in 24 h): Brier",
        f"{s['interruption_brier']:.6f}",
        f"bucket hazard {s['bucket_baseline_brier']:.6f}, base rate {s['base_rate_brier']:.6f}",
    )
    table.add_row(
        "P(interrupted in 24 h): ROC-AUC",
        f"{s['interruption_roc_auc']:.3f}",
        f"bucket hazard {s['bucket_baseline_roc_auc']:.3f}, base rate 0.500",
    )
    table.add_row(
        "spot price in 6 h: MAPE",
        f"{s['price_mape']:.2%}",
        f"last value {s['last_value_mape']:.2%}, seasonal {s['seasonal_mape']:.2%}",
    )
    table.add_row("run time (data + training)", f"{s['seconds']:.0f} s", "")
    return table


def write(
    out_dir: Path,
    full: dict[str, Any],
    price_test: Rows,
    price_predicted: NDArray[np.float64],
    series_names: list[str],
) -> None:
    """report.json, reliability.png and price_forecast.png into ``out_dir``."""
    (out_dir / "report.json").write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    _reliability_plot(full["interruption"], out_dir / "reliability.png")
    _price_plot(
        price_test, price_predicted, series_names, full["price"], out_dir / "price_forecast.png"
    )


def _reliability_plot(evaluation: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5.5))
    for key, label, style in (
        ("reliability", "calibrated model", "o-"),
        ("reliability_bucket_baseline", "bucket midpoint hazard", "s--"),
    ):
        bins = evaluation[key]
        x = np.array([b["mean_predicted"] for b in bins])
        y = np.array([b["observed"] for b in bins])
        n = np.array([b["count"] for b in bins])
        err = np.sqrt(np.maximum(y * (1 - y), 1e-12) / n)
        ax.errorbar(x, y, yerr=err, fmt=style, capsize=2, label=label)
    top = max(max(b["mean_predicted"], b["observed"]) for b in evaluation["reliability"]) * 1.1
    ax.plot([0, top], [0, top], color="grey", lw=0.8, label="perfect calibration")
    ax.axhline(evaluation["base_rate_train"], color="tab:red", ls=":", label="base rate")
    ax.set_xlabel("predicted P(interrupted within 24 h)")
    ax.set_ylabel("observed share (held-out launches)")
    ax.set_title("Spot interruption: reliability, 10 equal-count bins")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _price_plot(
    test: Rows,
    predicted: NDArray[np.float64],
    names: list[str],
    evaluation: dict[str, Any],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=[2.2, 1])
    series = int(test.extra["series"][0])
    rows = test.extra["series"] == series
    k = np.arange(int(rows.sum()))
    left.plot(k, test.extra["future"][rows], label="actual price[t + h]", color="black", lw=1)
    left.plot(k, test.extra["now"][rows] * np.exp(predicted[rows]), label="model", lw=1)
    left.plot(k, test.extra["now"][rows], label="last value", lw=0.8, ls="--")
    left.set_xlabel("held-out hour t")
    left.set_ylabel("USD per instance-hour")
    left.set_title(f"{names[series]} (synthetic prices)")
    left.legend()
    labels = ["model", "last value", "seasonal 24 h"]
    values = [
        evaluation["model"]["mape"],
        evaluation["baselines"]["last_value"]["mape"],
        evaluation["baselines"]["seasonal_24h"]["mape"],
    ]
    right.bar(labels, [100 * v for v in values], color=["tab:blue", "tab:orange", "tab:green"])
    right.set_ylabel("MAPE of price[t + h], % (all held-out series)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
