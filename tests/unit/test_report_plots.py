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


def test_a_held_out_slice_reports_its_own_size_and_hours(small_world: Any) -> None:
    """Headers state the set's own functions and hours; its plot starts at its first hour."""
    from skyroute.world.compare import compare
    from skyroute.world.objective import Objective
    from skyroute.world.traces.schema import time_slice
    from skyroute.world.traces.spec import load_trace

    trace = load_trace("synthetic:functions=30,days=1,seed=5", known_regions=small_world.region_ids)
    late = time_slice(trace, 18 * 3600.0, 24 * 3600.0)
    result = compare(late, "late", ["greedy"], small_world, Objective(), 1)
    info = result.trace
    assert info["first_hour"] == 18 and info["hours"] <= 6.0
    assert info["functions"] == len(set(late.function.tolist())) <= trace.n_functions
    assert result.hourly["greedy"]["hour"][0] == 18.0
    assert len(result.hourly["greedy"]["cost_usd"]) <= 6
