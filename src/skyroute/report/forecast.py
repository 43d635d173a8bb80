"""Write a load forecaster's per-horizon scores: a Markdown table and a PNG of R² per horizon.

The scores come from :func:`skyroute.learn.forecast_eval.compare`; the report only formats them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skyroute.learn.forecast_eval import HorizonScores

TABLE_FILE = "forecast.md"
R2_PLOT = "forecast_r2_per_horizon.png"
#: How each forecaster is named in tables and plots (unknown keys are shown as they are).
LABELS = {
    "lstm": "LSTM",
    "last_value": "last value",
    "window_mean": "window mean",
    "seasonal_1h": "1 h earlier",
}


def _label(name: str) -> str:
    return LABELS.get(name, name)


def horizon_table(scores: Mapping[str, HorizonScores]) -> str:
    """One row per horizon (minutes ahead): every forecaster's R², then every one's RMSE."""
    names = list(scores)
    header = [
        "h (min)",
        *(f"R² {_label(n)}" for n in names),
        *(f"RMSE {_label(n)}" for n in names),
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
    ]
    steps = len(next(iter(scores.values())).r2) if scores else 0
    for h in range(steps):
        r2 = [f"{scores[n].r2[h]:.3f}" for n in names]
        rmse = [f"{scores[n].rmse[h]:.2f}" for n in names]
        lines.append("| " + " | ".join([str(h + 1), *r2, *rmse]) + " |")
    return "\n".join(lines) + "\n"


def plot_r2(scores: Mapping[str, HorizonScores], path: Path, target: float | None = None) -> Path:
    """R² against minutes ahead, one line per forecaster, with the ``target`` as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, s in scores.items():
        steps = range(1, len(s.r2) + 1)
        ax.plot(steps, s.r2, marker="o", linewidth=2 if name == "lstm" else 1.2, label=_label(name))
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target}")
    ax.set_xlabel("minutes ahead")
    ax.set_ylabel("R² (held-out hours, calls per minute)")
    ax.set_title("Load forecast: R² per horizon")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def write_forecast_report(
    out_dir: Path, scores: Mapping[str, HorizonScores], notes: list[str], target: float | None
) -> list[Path]:
    """``forecast.md`` (notes, then the table and the plot) and the R² plot into ``out_dir``."""
    plot = plot_r2(scores, out_dir / R2_PLOT, target)
    lines = ["# Load forecaster: scores per horizon", "", *notes, "", horizon_table(scores)]
    lines += [f"![R² per horizon]({R2_PLOT})", ""]
    table = out_dir / TABLE_FILE
    table.write_text("\n".join(lines), encoding="utf-8")
    return [table, plot]
