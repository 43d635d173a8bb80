"""Report plots tell every policy apart (issue 11, item 5: hierarchical and only-aws shared one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyroute.report.simulation import policy_colours, write_plots

NAMES = [
    "only-aws", "only-azure", "only-gcp", "cheapest", "nearest", "greenest",
    "round-robin", "random", "greedy", "oracle", "hierarchical",
]  # fmt: skip


def test_eleven_policies_get_eleven_colours() -> None:
    colours = policy_colours(NAMES)
    assert len(set(colours.values())) == len(NAMES)
    assert colours["hierarchical"] != colours["only-aws"]


def test_plots_are_written_for_every_policy(tmp_path: Path) -> None:
    policies: dict[str, Any] = {
        name: {"cost_usd": 1.0 + i, "latency_ms": {"mean": 100.0 + i}, "carbon_g": 1.0}
        for i, name in enumerate(NAMES)
    }
    hourly = {name: {"cost_usd": [1.0, 2.0], "latency_ms": [10.0, 20.0]} for name in NAMES}
    paths = write_plots(tmp_path, policies, hourly)
    assert [p.exists() and p.stat().st_size > 0 for p in paths] == [True, True]
