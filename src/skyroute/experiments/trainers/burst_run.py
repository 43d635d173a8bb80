"""One ``lstm-burst`` run: data, model, pre-training, fine-tuning, metrics, plots, bundle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from skyroute.errors import ConfigError
from skyroute.experiments.trainer import RunContext, RunResult
from skyroute.experiments.trainers.base import finite_metrics

if TYPE_CHECKING:
    from skyroute.experiments.trainers.burst_fit import Scores
    from skyroute.experiments.trainers.lstm_burst import BurstConfig

CURVES_PLOT = "curves.png"
CONFUSION_PLOT = "confusion_matrix.png"
BUNDLE = "bundle"
#: Validation windows the ONNX export is checked on.
PROBE = 256


def version_of(config: BurstConfig, seed: int) -> str:
    """A short, stable id of the config and seed: the bundle's version."""
    text = json.dumps({**config.model_dump(), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _check_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device", "use cpu")
    return device


def run_burst(config: BurstConfig, context: RunContext) -> RunResult:
    """Train, score and export one burst classifier into ``context.run_dir``."""
    from skyroute.experiments.trainers.burst_data import cut_burst_windows, load_counts
    from skyroute.experiments.trainers.burst_export import export_burst_bundle
    from skyroute.experiments.trainers.burst_fit import (
        FitPlan,
        fine_tune,
        positive_weight,
        pretrain,
        score,
    )
    from skyroute.experiments.trainers.burst_model import make_model
    from skyroute.learn.hierarchy import fingerprint, trained_until
    from skyroute.learn.seeding import seed_everything

    seed_everything(context.seed)  # torch's seed, deterministic algorithms, one thread
    device = _check_device(context.device)
    counts, trace = load_counts(config.trace)
    data = cut_burst_windows(
        counts, window=config.window, horizon=config.horizon, burst_factor=config.burst_factor,
        min_burst_calls=config.min_burst_calls, max_windows=config.max_windows,
        max_val_windows=config.max_val_windows, burst_share=config.burst_share,
    )  # fmt: skip
    plan = FitPlan(
        epochs=config.epochs, pretrain_epochs=config.pretrain_epochs,
        batch_size=config.batch_size, lr=config.lr,
        positive_weight=positive_weight(data.train.label, config.class_weighting),
        time_warp_sigma=config.time_warp_sigma, mask_share=config.mask_share,
        threshold=config.threshold, device=device,
    )  # fmt: skip
    model = make_model(
        window=config.window, hidden=config.hidden, heads=config.heads, layers=config.layers,
        dropout=config.dropout,
    ).to(device)  # fmt: skip
    curves: dict[str, list[float]] = {}

    def log(values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            curves.setdefault(key, []).append(float(value))
        context.log_metrics(values, step)

    if plan.pretrain_epochs:
        pretrain(model, data.train.x, plan, context.seed, log)
    train_loss = fine_tune(model, data, plan, context.seed, log)
    val = score(model, data.val, plan)
    metrics = finite_metrics("lstm-burst", _metrics(val, train_loss, float(data.val.label.mean())))
    artifacts = _plots(curves, val, context.run_dir)
    bundle = export_burst_bundle(
        model.cpu(), context.run_dir / BUNDLE, window=config.window, probe=data.val.x[:PROBE],
        version=version_of(config, context.seed),
        trained_until=trained_until(trace, data.cut_minute * 60.0),
        data_fingerprint=fingerprint(trace), metrics=metrics,
        params={
            **config.model_dump(), "seed": context.seed,
            "positive_weight": plan.positive_weight,
            "label": f"peak of the next {config.horizon} min > {config.burst_factor:g} x the "
            f"window's mean and >= {config.min_burst_calls} calls",
        },
    )  # fmt: skip
    return RunResult(metrics=metrics, artifacts=artifacts, bundle_dir=bundle)


def _metrics(val: Scores, train_loss: float, burst_share: float) -> dict[str, float]:
    return {
        "accuracy": val.accuracy,
        "class_1_accuracy": val.class_1_accuracy,
        "class_0_accuracy": val.class_0_accuracy,
        "precision": val.precision,
        "f1": val.f1,
        "roc_auc": val.roc_auc,
        "val_loss": val.loss,
        "train_loss": train_loss,
        "burst_share": burst_share,
    }


def _plots(curves: Mapping[str, list[float]], val: Scores, run_dir: Path) -> list[Path]:
    from skyroute.report.classifier import confusion_plot, curves_plot

    return [
        curves_plot(curves, "LSTM burst classifier: training", run_dir / CURVES_PLOT),
        confusion_plot(
            val.confusion,
            ("quiet", "burst"),
            "Validation windows",
            run_dir / CONFUSION_PLOT,
            predicted="predicted (P ≥ threshold)",
        ),
    ]
