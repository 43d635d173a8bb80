"""Fitting and scoring the burst classifier: optional masked-minute pre-training, then
class-weighted fine-tuning on time-warped windows, scored on the validation windows after every
epoch.

Pre-training hides ``mask_share`` of each window's minutes and has the encoder (LSTM and
attention) reconstruct their log1p counts -- self-supervised, on the training windows without
their labels -- so the encoder knows what load looks like before it learns what precedes a
burst. Fine-tuning then trains everything, the classification head included.

Every random draw comes from the run's seed (a torch Generator for order and masks, a NumPy
Generator for the warps, torch's global seed for dropout), and torch runs on one thread with
deterministic algorithms, so one config and seed give bit-identical metrics in any process.
A loss that stops being finite is a ConfigError, never a NaN metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.experiments.trainers.augment import time_warp
from skyroute.experiments.trainers.burst_data import BurstData, BurstWindows

Log = Callable[[Mapping[str, float], int], None]
#: Gradient norm clip, as the load forecaster's training.
CLIP = 1.0


@dataclass(frozen=True)
class FitPlan:
    """How to fit: the trainer's config, reduced to what the loops read."""

    epochs: int
    pretrain_epochs: int
    batch_size: int
    lr: float
    #: Weight of a burst's loss relative to a quiet window's (see :func:`positive_weight`).
    positive_weight: float
    time_warp_sigma: float
    mask_share: float
    threshold: float
    #: "cpu" or "cuda"; batches are drawn on the CPU (the same draws either way) and moved.
    device: str = "cpu"


@dataclass(frozen=True)
class Scores:
    """A model's scores on labelled windows, predicting a burst where P >= the threshold."""

    accuracy: float
    #: Recall of bursts: the share of real bursts predicted.
    class_1_accuracy: float
    #: The share of quiet windows predicted quiet.
    class_0_accuracy: float
    precision: float
    f1: float
    roc_auc: float
    #: The class-weighted binary cross-entropy the training minimises.
    loss: float
    #: [[quiet predicted quiet, quiet predicted burst], [burst ..., burst ...]].
    confusion: tuple[tuple[int, int], tuple[int, int]]


def positive_weight(labels: NDArray[np.float32], weighting: str) -> float:
    """``balanced``: quiet/bursts (both classes weigh the same in the loss); ``sqrt``: its
    square root (half-way, in log terms); ``none``: 1."""
    bursts = float(labels.sum())
    ratio = (labels.shape[0] - bursts) / max(bursts, 1.0)
    return float({"balanced": ratio, "sqrt": np.sqrt(ratio), "none": 1.0}[weighting])


def roc_auc(labels: NDArray[np.float32], scores: NDArray[np.float32]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class only."""
    positive = labels > 0.5
    n_pos = int(positive.sum())
    n_neg = positive.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _weighted_bce(logits: Any, labels: Any, weight: float) -> Any:
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(
        logits, labels, pos_weight=torch.tensor(weight, device=logits.device)
    )


def score(model: Any, rows: BurstWindows, plan: FitPlan) -> Scores:
    """``model``'s scores on ``rows`` (evaluation mode, no gradients)."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = torch.cat(
            [
                model.logits(torch.as_tensor(rows.x[s : s + 4096]).to(plan.device)).cpu()
                for s in range(0, len(rows.x), 4096)
            ]
        )
        loss = float(_weighted_bce(logits, torch.as_tensor(rows.label), plan.positive_weight))
        probability = torch.sigmoid(logits).numpy()
    truth = rows.label > 0.5
    predicted = probability >= plan.threshold
    tp, fn = int(np.sum(truth & predicted)), int(np.sum(truth & ~predicted))
    fp, tn = int(np.sum(~truth & predicted)), int(np.sum(~truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return Scores(
        accuracy=(tp + tn) / max(truth.size, 1),
        class_1_accuracy=recall,
        class_0_accuracy=tn / (tn + fp) if tn + fp else 0.0,
        precision=precision,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        roc_auc=roc_auc(rows.label, probability),
        loss=loss,
        confusion=((tn, fp), (fn, tp)),
    )


def _batches(n: int, size: int, generator: Any) -> Iterator[Any]:
    import torch

    order = torch.randperm(n, generator=generator)
    for start in range(0, n, size):
        yield order[start : start + size]


def _step(model: Any, optimiser: Any, loss: Any, what: str, epoch: int) -> float:
    import torch

    if not torch.isfinite(loss):
        raise ConfigError(
            f"the burst classifier's {what} loss became {loss.item()} in epoch {epoch + 1}",
            "lower lr, or time_warp_sigma; check the trace for extreme counts",
        )
    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimiser.step()
    return float(loss.item())


def _warped(x: NDArray[np.float32], plan: FitPlan, rng: np.random.Generator) -> Any:
    import torch

    warped = time_warp(x, plan.time_warp_sigma, rng) if plan.time_warp_sigma else x
    return torch.as_tensor(warped).to(plan.device)


def pretrain(model: Any, x: NDArray[np.float32], plan: FitPlan, seed: int, log: Log) -> list[float]:
    """Masked-minute reconstruction on ``x``; the mean loss of each epoch (also logged as
    ``pretrain_loss``)."""
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    rng = np.random.default_rng([seed, 1])
    optimiser = torch.optim.Adam(model.parameters(), lr=plan.lr)
    losses = []
    for epoch in range(plan.pretrain_epochs):
        model.train()
        inputs, total, count = _warped(x, plan, rng), 0.0, 0
        for batch in _batches(len(x), plan.batch_size, generator):
            xb = inputs[batch.to(plan.device)]
            mask = (torch.rand(xb.shape, generator=generator) < plan.mask_share).float()
            mask = mask.to(plan.device)
            error = (model.reconstruction(xb, mask) - torch.log1p(torch.clamp(xb, min=0.0))) ** 2
            loss = (error * mask).sum() / torch.clamp(mask.sum(), min=1.0)
            total += _step(model, optimiser, loss, "pre-training", epoch) * len(batch)
            count += len(batch)
        losses.append(total / max(count, 1))
        log({"pretrain_loss": losses[-1]}, epoch)
    return losses


def fine_tune(model: Any, data: BurstData, plan: FitPlan, seed: int, log: Log) -> float:
    """Class-weighted training on time-warped windows; logs ``train_loss``, ``val_loss``,
    ``val_accuracy``, ``val_class_1_accuracy`` and ``val_class_0_accuracy`` per epoch and
    returns the last epoch's mean training loss."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng([seed, 0])
    optimiser = torch.optim.Adam(model.parameters(), lr=plan.lr)
    labels = torch.as_tensor(data.train.label).to(plan.device)
    train_loss = float("nan")
    for epoch in range(plan.epochs):
        model.train()
        inputs, total = _warped(data.train.x, plan, rng), 0.0
        for batch in _batches(len(labels), plan.batch_size, generator):
            batch = batch.to(plan.device)
            loss = _weighted_bce(model.logits(inputs[batch]), labels[batch], plan.positive_weight)
            total += _step(model, optimiser, loss, "training", epoch) * len(batch)
        train_loss = total / max(len(labels), 1)
        val = score(model, data.val, plan)
        log(
            {
                "train_loss": train_loss,
                "val_loss": val.loss,
                "val_accuracy": val.accuracy,
                "val_class_1_accuracy": val.class_1_accuracy,
                "val_class_0_accuracy": val.class_0_accuracy,
            },
            epoch,
        )
    return train_loss
