"""The comparison report at the end of a sweep: ``report.md`` and its PNGs.

One table per phase (every run's varied parameters and metrics; failed runs with their reason),
one grid plot per phase (objective against the first constraint's metric, the threshold drawn,
the winner marked, runs that miss the rule greyed) and the champion's per-epoch curves. It only
formats a :class:`SweepOutcome`: the same outcome always gives the same bytes (no clock, sorted
keys, PNGs written without a timestamp), so a resumed sweep rewrites an identical report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyroute.experiments.outcomes import PhaseOutcome, RunOutcome, SweepOutcome
from skyroute.experiments.rules import Constraint

if TYPE_CHECKING:
    from matplotlib.axes import Axes

REPORT_FILE = "report.md"
CURVES_PLOT = "champion_curves.png"
WINNER_COLOUR = "#d62728"
MEETS_COLOUR = "#1f77b4"
MISSES_COLOUR = "#b0b0b0"


def write_report(outcome: SweepOutcome, out_dir: Path) -> Path:
    """Write ``report.md`` and its PNGs into ``out_dir`` (created); return ``report.md``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = _header(outcome)
    for index, phase in enumerate(outcome.phases, start=1):
        plot = phase_plot_name(index, phase)
        drawn = plot_phase(phase, out_dir / plot)
        lines += _phase_section(index, phase, plot if drawn else None)
    lines += _champion_section(outcome.champion, out_dir)
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def phase_plot_name(index: int, phase: PhaseOutcome) -> str:
    """``phase_2_model_size.png``: numbered in order, the name made file-safe."""
    slug = re.sub(r"[^a-z0-9]+", "_", phase.name.lower()).strip("_") or "phase"
    return f"phase_{index}_{slug}.png"


def misses(run: RunOutcome, constraints: Sequence[tuple[str, str, float]]) -> list[str]:
    """The constraints ``run`` does not meet, as written ("class_1_accuracy >= 0.3")."""
    rules = [Constraint(metric, op, value) for metric, op, value in constraints]
    return [str(rule) for rule in rules if not rule.met(run.metrics)]


def run_label(run: RunOutcome, varied: Sequence[str]) -> str:
    """A run named by the parameters its phase varied ("hidden=64, heads=4"), else its name."""
    parts = [f"{key}={_value(run.params[key])}" for key in varied if key in run.params]
    return ", ".join(parts) or run.name


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    """Markdown-table safe: no pipes or line breaks from a failure reason."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _header(outcome: SweepOutcome) -> list[str]:
    runs = [run for phase in outcome.phases for run in phase.runs]
    failed = sum(run.status == "failed" for run in runs)
    champion = outcome.champion
    lines = [
        f"# Sweep `{outcome.sweep}`",
        "",
        f"Trainer `{outcome.trainer}`, scale `{outcome.scale}`: {len(outcome.phases)} phases, "
        f"{len(runs)} runs ({failed} failed); this invocation executed {outcome.executed} and "
        f"reused {outcome.skipped} finished runs from the tracking store.",
        "",
    ]
    if champion is None:
        lines += ["**No champion**: the last phase has no winner (see its section).", ""]
    else:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(champion.metrics.items()))
        lines += [f"**Champion**: `{champion.name}` (phase `{champion.phase}`): {metrics}.", ""]
    return lines


def _phase_section(index: int, phase: PhaseOutcome, plot: str | None) -> list[str]:
    lines = [f"## Phase {index}: `{phase.name}`", "", f"Rule: {phase.rule}", ""]
    if phase.winner is not None:
        lines += [f"Winner: `{phase.winner.name}` ({run_label(phase.winner, phase.varied)})", ""]
    else:
        lines += [f"**No winner**: {phase.problem or 'no run met the rule'}", ""]
    metrics = sorted({name for run in phase.runs for name in run.metrics})
    header = ["run", *phase.varied, *metrics, "result"]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for run in phase.runs:
        name = f"**{run.name}**" if run is phase.winner else run.name
        values = [_value(run.params.get(key, "")) for key in phase.varied]
        scores = [f"{run.metrics[m]:.4f}" if m in run.metrics else "-" for m in metrics]
        row = [name, *values, *scores, _result(run, phase)]
        lines.append("| " + " | ".join(_cell(str(v)) for v in row) + " |")
    lines.append("")
    if plot is not None:
        lines += [f"![phase {index}: {phase.objective} per run]({plot})", ""]
    return lines


def _result(run: RunOutcome, phase: PhaseOutcome) -> str:
    if run.status == "failed":
        return f"failed: {run.reason or 'no reason recorded'}"
    if run is phase.winner:
        return "**winner**"
    missed = misses(run, phase.constraints)
    return "misses " + "; ".join(missed) if missed else "meets the rule"


def _champion_section(champion: RunOutcome | None, out_dir: Path) -> list[str]:
    if champion is None:
        return []
    lines = ["## Champion", "", f"`{champion.name}` from phase `{champion.phase}`.", ""]
    lines += ["| parameter | value |", "|---|---|"]
    lines += [f"| {key} | {_cell(_value(v))} |" for key, v in sorted(champion.params.items())]
    lines += ["", "| metric | value |", "|---|---:|"]
    lines += [f"| {key} | {v:.4f} |" for key, v in sorted(champion.metrics.items())]
    lines.append("")
    if plot_curves(champion, out_dir / CURVES_PLOT):
        lines += [f"![the champion's curves]({CURVES_PLOT})", ""]
    return lines


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    _pyplot().close(fig)


def plot_phase(phase: PhaseOutcome, path: Path) -> bool:
    """The phase's grid: objective per run against the constraint's metric; False if empty.

    With a constraint: a scatter, the threshold a dashed line, the winner a red star, runs
    missing the rule grey. Without one: the objective as bars. Failed runs have no point.
    """
    runs = [r for r in phase.runs if r.status == "finished" and phase.objective in r.metrics]
    if not runs:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    axis = next((c for c in phase.constraints if c[0] != phase.objective), None)
    if axis is not None and all(axis[0] in r.metrics for r in runs):
        _scatter(ax, phase, runs, axis)
    else:
        _bars(ax, phase, runs)
    failed = len(phase.runs) - len(runs)
    note = f" ({failed} failed, not shown)" if failed else ""
    ax.set_title(f"{phase.name}: {phase.rule}{note}", fontsize=10)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return True


def _colour(run: RunOutcome, phase: PhaseOutcome) -> str:
    if run is phase.winner:
        return WINNER_COLOUR
    return MISSES_COLOUR if misses(run, phase.constraints) else MEETS_COLOUR


def _scatter(
    ax: Axes, phase: PhaseOutcome, runs: list[RunOutcome], axis: tuple[str, str, float]
) -> None:
    metric, op, threshold = axis
    for run in runs:
        x, y = run.metrics[metric], run.metrics[phase.objective]
        winner = run is phase.winner
        ax.scatter(
            [x], [y], s=160 if winner else 50, marker="*" if winner else "o",
            color=_colour(run, phase), edgecolor="black" if winner else "none", zorder=3,
        )  # fmt: skip
        ax.annotate(
            run_label(run, phase.varied), (x, y), textcoords="offset points", xytext=(6, 4),
            fontsize=7, color="black" if not misses(run, phase.constraints) else "grey",
        )  # fmt: skip
    ax.margins(x=0.15, y=0.12)
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    low, high = ax.get_xlim()
    fails = (low, threshold) if op in (">=", ">") else (threshold, high)
    ax.axvspan(*fails, color=MISSES_COLOUR, alpha=0.15, linewidth=0)
    ax.set_xlim(low, high)
    ax.annotate(
        f"{metric} {op} {threshold:g}", (threshold, 0.0), xycoords=("data", "axes fraction"),
        xytext=(4, 6), textcoords="offset points", fontsize=8,
    )  # fmt: skip
    ax.set_xlabel(metric)
    ax.set_ylabel(f"{phase.objective} ({phase.goal})")
    _legend(ax)


def _bars(ax: Axes, phase: PhaseOutcome, runs: list[RunOutcome]) -> None:
    labels = [run_label(run, phase.varied) for run in runs]
    values = [run.metrics[phase.objective] for run in runs]
    bars = ax.bar(range(len(runs)), values, color=[_colour(run, phase) for run in runs])
    ax.bar_label(bars, fmt="%.4g", fontsize=8)
    top = max([*values, 0.0])
    ax.set_ylim(top=top + 0.25 * (abs(top) or 1.0))  # room for the values and the legend
    ax.set_xticks(range(len(runs)), labels, rotation=30, ha="right", fontsize=8)
    for metric, op, threshold in phase.constraints:
        if metric == phase.objective:
            ax.axhline(threshold, color="black", linestyle="--", linewidth=1)
            ax.annotate(f"{metric} {op} {threshold:g}", (0, threshold), fontsize=8)
    ax.set_ylabel(f"{phase.objective} ({phase.goal})")
    _legend(ax)


def _legend(ax: Axes) -> None:
    from matplotlib.lines import Line2D

    def mark(colour: str, marker: str, label: str) -> Line2D:
        return Line2D([], [], color=colour, marker=marker, linestyle="", markersize=9, label=label)

    handles = [
        mark(WINNER_COLOUR, "*", "winner"),
        mark(MEETS_COLOUR, "o", "meets the rule"),
        mark(MISSES_COLOUR, "o", "misses a constraint"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="best")


def plot_curves(run: RunOutcome, path: Path) -> bool:
    """One panel per recorded curve (loss and accuracy differ in scale); False if none."""
    curves = {name: values for name, values in sorted(run.curves.items()) if values}
    if not curves:
        return False
    plt = _pyplot()
    cols = min(2, len(curves))
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (name, values) in zip(flat, curves.items(), strict=False):
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in flat[len(curves) :]:
        ax.set_visible(False)
    fig.suptitle(f"{run.name}: curves", fontsize=11)
    _save(fig, path)
    return True
