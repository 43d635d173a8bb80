"""Which policy wins as each uncertain assumption moves across its range.

Every parameter in :data:`skyroute.world.model.PARAMETER_RANGES` is set to its low and high end
(the others at their defaults); the same trace is replayed under the same policies with the
same draws, and the winner (lowest objective) is recorded. A conclusion that flips inside a
published range is a conclusion the data cannot carry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypedDict

from skyroute.world.catalog.loader import Catalog
from skyroute.world.model import PARAMETER_RANGES, WorldConfig, build_world
from skyroute.world.objective import Objective
from skyroute.world.policies import make_policy
from skyroute.world.simulator import simulate
from skyroute.world.traces.schema import Trace


class SensitivityRow(TypedDict):
    parameter: str
    value: float
    setting: str
    objective: dict[str, float]
    cost_usd: dict[str, float]
    winner: str


def sensitivity(
    catalog: Catalog,
    trace: Trace,
    policies: Sequence[str],
    objective: Objective,
    seed: int = 0,
    on_step: Callable[[str], None] = lambda label: None,
) -> list[SensitivityRow]:
    """One row per (parameter, setting): each policy's objective and cost, and the winner."""
    base = WorldConfig()
    settings: list[tuple[str, str, float]] = [("defaults", "default", 0.0)]
    for name, span in PARAMETER_RANGES.items():
        settings += [(name, "low", span.low), (name, "high", span.high)]
    rows: list[SensitivityRow] = []
    for name, setting, value in settings:
        on_step(f"{name} {setting}")
        changes: dict[str, Any] = {} if name == "defaults" else {name: value}
        config = replace(base, **changes)
        world = build_world(catalog, config, origins=list(trace.origin_names))
        results = {p: simulate(trace, make_policy(p), world, objective, seed) for p in policies}
        score = {p: float(r.objective.mean()) for p, r in results.items()}
        rows.append(
            SensitivityRow(
                parameter=name,
                value=value if name != "defaults" else 0.0,
                setting=setting,
                objective=score,
                cost_usd={p: float(r.outcome.cost_usd.sum()) for p, r in results.items()},
                winner=min(score, key=lambda p: score[p]),
            )
        )
    return rows


def markdown(rows: list[SensitivityRow], policies: Sequence[str]) -> str:
    """The rows as a Markdown table (objective per policy; the winner in bold)."""
    lines = [
        "| parameter | setting | " + " | ".join(policies) + " | winner |",
        "|---|---|" + "---:|" * len(policies) + "---|",
    ]
    for row in rows:
        cells = [
            f"**{row['objective'][p]:.3f}**" if p == row["winner"] else f"{row['objective'][p]:.3f}"
            for p in policies
        ]
        value = "" if row["parameter"] == "defaults" else f" = {row['value']:g}"
        lines.append(
            f"| {row['parameter']} | {row['setting']}{value} | "
            + " | ".join(cells)
            + f" | {row['winner']} |"
        )
    return "\n".join(lines) + "\n"
