"""``skyroute dataset build``: per-invocation features and counterfactual outcomes.

For every invocation the simulator replays two counterfactual worlds -- every function on its
greedy-best **function** placement, and on its greedy-best **container** placement -- so each
row carries the realised cost, latency, carbon and objective of both (with the simulator's
seeded cold starts and errors: the label has real variance, it is not a lookup of the profile).
``label_container`` is 1 where the container's realised objective is lower.

Features (all known before the call; nothing from the future):

=========================  ================================================================
``hour_sin/cos``           hour of day (UTC)
``dow_sin/cos``            day of week
``log_duration_ms``        the function's mean duration (its profile)
``log_memory_mb``          the function's p95 footprint
``log_payload_kb``         this request's payload, log1p
``log_calls_1m/5m/15m/60m`` the function's calls in the previous 1/5/15/60 minutes, log1p
``gap_cv``                 coefficient of variation of its last 10 inter-arrival gaps
``log_gap_s``              seconds since its previous call, log1p (capped at 1 day)
``origin_*``               caller's continent (americas, europe, asia)
``log_fn_price``           price per second of the best function placement, log10
``log_ct_price``           price per second of the best container placement, log10
``carbon_fn/carbon_ct``    grid intensity at that hour in the two placements' regions, /1000
=========================  ================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from skyroute.world.model import World
from skyroute.world.traces.schema import Trace

WINDOWS_MIN = (1, 5, 15, 60)
GAP_HISTORY = 10
DAY_S = 86_400.0
FEATURES = (
    "hour_sin", "hour_cos", "dow_sin", "dow_cos", "log_duration_ms", "log_memory_mb",
    "log_payload_kb", "log_calls_1m", "log_calls_5m", "log_calls_15m", "log_calls_60m",
    "gap_cv", "log_gap_s", "origin_americas", "origin_europe", "origin_asia",
    "log_fn_price", "log_ct_price", "carbon_fn", "carbon_ct",
)  # fmt: skip


def _recent_calls(trace: Trace, window_s: float) -> np.ndarray:
    """Calls of the same function in the ``window_s`` seconds before each call."""
    order = np.lexsort((trace.timestamp_s, trace.function))
    key = trace.function[order].astype(np.float64) * 1e8 + trace.timestamp_s[order]
    position = np.arange(len(key))
    earlier = np.searchsorted(key, key - window_s, side="left")
    counts = np.empty(len(key), dtype=np.float64)
    counts[order] = position - earlier
    return counts


def _gaps(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since the function's previous call, CV of its last GAP_HISTORY gaps)."""
    frame = pd.DataFrame({"f": trace.function, "t": trace.timestamp_s})
    gap = frame.groupby("f")["t"].diff()
    rolling = gap.groupby(frame["f"]).rolling(GAP_HISTORY, min_periods=2)
    cv = (rolling.std() / rolling.mean()).reset_index(level=0, drop=True).sort_index()
    return gap.fillna(DAY_S).clip(upper=DAY_S).to_numpy(), cv.fillna(0.0).clip(0, 10).to_numpy()


def _continent(origin_names: tuple[str, ...]) -> np.ndarray:
    """0 americas, 1 europe, 2 asia (and the rest) per origin."""
    out = []
    for name in origin_names:
        region = name.split(":", 1)[1]
        if region.startswith(("us-", "sa-", "ca-", "mx-", "southamerica", "northamerica")) or any(
            k in region for k in ("eastus", "westus", "centralus", "brazil", "canada")
        ):
            out.append(0)
        elif region.startswith(("eu-", "europe", "me-", "il-", "af-")) or any(
            k in region for k in ("europe", "germany", "france", "uk", "norway", "sweden", "swiss")
        ):
            out.append(1)
        else:
            out.append(2)
    return np.asarray(out)


def build_dataset(trace: Trace, world: World, seed: int = 0) -> pd.DataFrame:
    """One row per invocation: FEATURES, both counterfactual outcomes and the label."""
    from skyroute.world.objective import Objective
    from skyroute.world.policies.base import choose, objective_score, placement_mask
    from skyroute.world.requests import actual_invocations, hour_index, requests_from_trace
    from skyroute.world.simulator import simulate_placement

    objective = Objective()
    requests = requests_from_trace(trace, world)
    best = {}
    for platform in ("function", "container"):
        mask = placement_mask(world, platform=platform, purchase="on-demand")
        best[platform] = choose(requests, world, objective, objective_score(objective), mask)
    frame = pd.DataFrame(index=np.arange(len(trace)))
    hour = (trace.timestamp_s / 3600.0) % 24.0
    day = hour_index(trace) // 24 % 7
    frame["hour_sin"], frame["hour_cos"] = (
        np.sin(2 * np.pi * hour / 24),
        np.cos(2 * np.pi * hour / 24),
    )
    frame["dow_sin"], frame["dow_cos"] = np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)
    frame["log_duration_ms"] = np.log10(requests.expected.duration_ms)
    frame["log_memory_mb"] = np.log10(requests.expected.memory_mb)
    frame["log_payload_kb"] = np.log1p(trace.payload_kb)
    for minutes in WINDOWS_MIN:
        frame[f"log_calls_{minutes}m"] = np.log1p(_recent_calls(trace, 60.0 * minutes))
    gap, cv = _gaps(trace)
    frame["gap_cv"], frame["log_gap_s"] = cv, np.log1p(gap)
    continent = _continent(trace.origin_names)[trace.origin]
    for k, name in enumerate(("americas", "europe", "asia")):
        frame[f"origin_{name}"] = (continent == k).astype(np.float64)
    from skyroute.world.physics import observed_gb

    p = world.placements
    inv = actual_invocations(trace, world)
    # Price per second of the size as sold; Azure Consumption bills observed memory instead, so
    # it is priced here at the memory the call uses.
    used_gb = observed_gb(inv.memory_mb, p.take(best["function"]))
    fn_price = p.usd_per_second[best["function"]] + (
        used_gb * p.usd_per_observed_gb_second[best["function"]]
    )
    frame["log_fn_price"] = np.log10(np.maximum(fn_price, 1e-15))
    frame["log_ct_price"] = np.log10(np.maximum(p.usd_per_second[best["container"]], 1e-15))
    frame["carbon_fn"] = world.carbon[p.region[best["function"]], inv.hour] / 1000.0
    frame["carbon_ct"] = world.carbon[p.region[best["container"]], inv.hour] / 1000.0
    for platform, short in (("function", "fn"), ("container", "ct")):
        result = simulate_placement(trace, best[platform], world, objective, seed)
        frame[f"{short}_cost_usd"] = result.outcome.cost_usd
        frame[f"{short}_latency_ms"] = result.outcome.latency_ms
        frame[f"{short}_carbon_g"] = result.outcome.carbon_g
        frame[f"{short}_error"] = result.outcome.error
        frame[f"{short}_objective"] = result.objective
        frame[f"{short}_placement"] = best[platform]
    frame["label_container"] = (frame["ct_objective"] < frame["fn_objective"]).astype(np.int64)
    frame["function"] = trace.function
    frame["timestamp_s"] = trace.timestamp_s
    return frame


def write_dataset(frame: pd.DataFrame, out_dir: Path) -> None:
    from skyroute.io import staged_output_dir

    with staged_output_dir(out_dir) as stage:
        frame.to_parquet(stage / "dataset.parquet", index=False)
        (stage / "FEATURES.txt").write_text("\n".join(FEATURES) + "\n", encoding="utf-8")
