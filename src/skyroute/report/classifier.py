"""Plots of a binary classifier's training: its per-epoch curves and its confusion matrix.

Shared by the platform router's report and the sweepable trainers (``skyroute.experiments``);
the numbers come from the caller, these functions only draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_plot(
    matrix: Sequence[Sequence[int]],
    classes: tuple[str, str],
    title: str,
    path: Path,
    predicted: str = "predicted (P ≥ 0.5)",
) -> Path:
    """A 2 x 2 count matrix (rows: label, columns: prediction) as a heat map with counts."""
    plt = _pyplot()
    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(counts, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        colour = "white" if count > counts.max() / 2 else "black"
        ax.text(j, i, f"{count:,}", ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], list(classes))
    ax.set_yticks([0, 1], list(classes))
    ax.set_xlabel(predicted)
    ax.set_ylabel("label")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def curves_plot(curves: Mapping[str, Sequence[float]], title: str, path: Path) -> Path:
    """One panel per family of curves: pre-training (names starting ``pretrain``), the other
    losses (names ending ``loss``), and the rest (shares); each against its own epochs."""
    plt = _pyplot()
    groups: dict[str, dict[str, Sequence[float]]] = {
        "pre-training loss": {}, "loss": {}, "share": {}
    }  # fmt: skip
    for name, values in curves.items():
        if values:
            group = "pre-training loss" if name.startswith("pretrain") else None
            group = group or ("loss" if name.endswith("loss") else "share")
            groups[group][name] = values
    panels = [(label, panel) for label, panel in groups.items() if panel]
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4))
    for ax, (label, panel) in zip(np.atleast_1d(axes), panels, strict=False):
        for name, values in panel.items():
            ax.plot(range(1, len(values) + 1), values, marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
