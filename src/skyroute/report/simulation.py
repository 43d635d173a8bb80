"""Write a simulation's outputs: metrics.json, report.md and PNG plots.

The report reads the world's results; the world never imports the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyroute.world.metrics import PolicyMetrics

if TYPE_CHECKING:
    from skyroute.world.compare import Comparison
    from skyroute.world.objective import Objective

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
PARETO_PLOT = "policies_cost_latency_carbon.png"
HOURLY_PLOT = "hourly_cost_latency.png"


def write_metrics(
    out_dir: Path,
    trace_info: dict[str, Any],
    policies: dict[str, PolicyMetrics],
    extra: dict[str, Any],
) -> Path:
    """``metrics.json``: the trace summary and one block per policy (stable key order)."""
    path = out_dir / METRICS_FILE
    payload = {"trace": trace_info, "policies": policies, **extra}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def write_markdown(
    out_dir: Path,
    trace_info: dict[str, Any],
    policies: dict[str, PolicyMetrics],
    notes: list[str],
) -> Path:
    """``report.md``: the policies side by side, best objective first, with the plots."""
    lines = [
        "# SkyRoute simulation report",
        "",
        f"Trace `{trace_info['spec']}`: {trace_info['invocations']:,} invocations of "
        f"{trace_info['functions']:,} functions over {trace_info['hours']:.1f} h "
        f"(seed {trace_info['seed']}).",
        "",
        "Objective: weighted total cost, per-call latency relative to the same call on the "
        "reference placement (slowdown, with a floor), and total carbon, each relative to the "
        "reference placement running the whole trace, plus a penalty per error (1.0 = as good "
        "as the reference; lower is better; weights under Notes). 'short ms' is the mean "
        "latency of the calls that take under a second on the reference.",
        "",
        "| policy | objective | cost (USD) | mean latency (ms) | short ms | p95 (ms) "
        "| p99 (ms) | carbon (g) | cold starts | errors | infeasible |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ranked = sorted(policies.items(), key=lambda kv: kv[1]["objective"])
    for name, m in ranked:
        lat = m["latency_ms"]
        lines.append(
            f"| {name} | {m['objective']:.4f} | {m['cost_usd']:.4f} | {lat['mean']:.1f} "
            f"| {lat['mean_short_calls']:.1f} | {lat['p95']:.1f} | {lat['p99']:.1f} "
            f"| {m['carbon_g']:.2f} | {100 * m['cold_start_rate']:.2f}% "
            f"| {100 * m['error_rate']:.3f}% | {100 * m['infeasible_rate']:.2f}% |"
        )
    lines += ["", "## Where the calls ran (share of calls)", ""]
    lines += ["| policy | aws / azure / gcp | function / container | on-demand / spot | products |"]
    lines += ["|---|---|---|---|---|"]
    for name, m in ranked:
        mix = m["mix"]
        products = ", ".join(
            f"{product} {100 * share:.0f}%"
            for product, share in sorted(mix["product"].items(), key=lambda kv: -kv[1])
            if share >= 0.005
        )
        lines.append(
            f"| {name} | {_shares(mix['provider'])} | {_shares(mix['platform'])} "
            f"| {_shares(mix['purchase'])} | {products} |"
        )
    lines += ["", f"![policies]({PARETO_PLOT})", "", f"![hourly]({HOURLY_PLOT})", ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _shares(shares: dict[str, float]) -> str:
    return " / ".join(f"{100 * v:.0f}%" for v in shares.values())


def policy_colours(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One distinct colour per policy, the same in every plot of a report.

    Matplotlib's default cycle has 10 colours, so an eleventh policy (e.g. ``hierarchical``
    beside the ten baselines) repeated the first one's; tab20 has 20.
    """
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"]
    palette = [tab20(i / 20 + 1 / 40)[:3] for i in range(20)]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def write_plots(
    out_dir: Path, policies: dict[str, PolicyMetrics], hourly: dict[str, dict[str, list[float]]]
) -> list[Path]:
    """Cost vs latency (marker size = carbon) and cost/latency per hour, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out_dir / PARETO_PLOT, out_dir / HOURLY_PLOT]
    colour = policy_colours(list(dict.fromkeys([*policies, *hourly])))
    fig, ax = plt.subplots(figsize=(8, 6))
    carbon = [m["carbon_g"] for m in policies.values()]
    biggest = max(max(carbon), 1e-12)
    for (name, m), g in zip(policies.items(), carbon, strict=True):
        ax.scatter(
            m["cost_usd"],
            m["latency_ms"]["mean"],
            s=40 + 400 * g / biggest,
            alpha=0.6,
            color=colour[name],
            label=name,
        )
        ax.annotate(
            name,
            (m["cost_usd"], m["latency_ms"]["mean"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("total cost (USD)")
    ax.set_ylabel("mean end-to-end latency (ms)")
    ax.set_title("Policies: cost vs latency (marker area = carbon)")
    ax.legend(fontsize=7, ncol=2, markerscale=0.5)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, series in hourly.items():
        hours = series.get("hour", list(range(len(series["cost_usd"]))))
        top.plot(hours, series["cost_usd"], label=name, linewidth=1.2, color=colour[name])
        bottom.plot(hours, series["latency_ms"], label=name, linewidth=1.2, color=colour[name])
    top.set_ylabel("cost per hour (USD)")
    bottom.set_ylabel("mean latency (ms)")
    bottom.set_xlabel("hour of trace")
    bottom.set_yscale("log")
    top.legend(fontsize=7, ncol=3)
    top.grid(alpha=0.3)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110, metadata={"Software": None})
    plt.close(fig)
    return paths


def write_comparison(out_dir: Path, comparison: Comparison, objective: Objective) -> None:
    """metrics.json, report.md and the plots of a :func:`skyroute.world.compare.compare` run."""
    extra = {
        "objective": {
            "cost": objective.cost,
            "latency": objective.latency,
            "carbon": objective.carbon,
            "error_penalty": objective.error_penalty,
            "latency_floor_ms": objective.latency_floor_ms,
            "constraints": {
                "providers": list(objective.constraints.providers),
                "regions": list(objective.constraints.regions),
                "max_latency_ms": objective.constraints.max_latency_ms,
                "max_cost_usd": objective.constraints.max_cost_usd,
            },
        },
    }
    write_metrics(out_dir, comparison.trace, comparison.metrics, extra)
    weights = (
        f"Objective weights: cost {objective.cost}, latency {objective.latency}, carbon "
        f"{objective.carbon}; error penalty {objective.error_penalty}."
    )
    notes = [weights, *comparison.notes]
    write_markdown(out_dir, comparison.trace, comparison.metrics, notes)
    write_plots(out_dir, comparison.metrics, comparison.hourly)
