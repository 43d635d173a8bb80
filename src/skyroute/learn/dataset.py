"""``skyroute dataset build``: one row per function and time window, with counterfactual outcomes.

The platform router decides once per (function, window) -- 15 minutes by default -- and the
decision holds for every call of the function in the window (``skyroute.learn.windows``).

Counterfactuals: the simulator replays the whole trace twice, every call on its greedy-best
**function** placement and on its greedy-best **container** placement (chosen as the greedy
policy chooses, under the trace-scaled objective the outcomes are judged by), with the same
seeded cold starts and errors. A row sums each replay's realised objective and cost over the
function's calls in the window; ``label_container`` is 1 where the container's sum is lower.
The label is the *steady-state* comparison: in the container replay the function's pool was
warm from earlier windows, so a router that switches a function to containers pays a cold
start the label does not see (the routing threshold is therefore set in the simulator, see
``skyroute.learn.router_pipeline``).

Features, known when the window's first call arrives (nothing from the window itself but that
call's placements; nothing from the future):

==================================  ==========================================================
``hour_sin/cos``, ``dow_sin/cos``   hour of day and day of week of the window's start (UTC)
``log_memory_mb``                   the function's p95 footprint (its profile), log10
``log_payload_kb``                  the function's mean payload (its profile), log1p
``log_calls_prev/1h/6h``            its calls in the previous window, hour and 6 hours, log1p
``busy_prev/1h/6h``                 the same calls x the profile's duration / the span: the
                                    share of the span one instance would have been busy, log10
``log_gap_s``                       seconds from its latest call to the window's start, log1p
                                    (a day when it has none)
``gap_cv``                          variability (CV) of its last 10 inter-arrival gaps
``log_fn_price``, ``log_ct_price``  price per second of the first call's best function and
                                    container placements, log10
``carbon_fn``, ``carbon_ct``        grid intensity of those placements' regions, /1000
==================================  ==========================================================

The profile's mean duration enters only through ``busy_*`` (duration x rate): on its own it
carried 50-73 % of the per-call router's permutation importance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.learn.config import check_max_rows, window_seconds
from skyroute.learn.windows import History, Windows, gap_variability, windows_of
from skyroute.world.model import World
from skyroute.world.physics import Invocations
from skyroute.world.traces.schema import Trace

WINDOW_MIN = 15.0
#: Name and version of the feature list below, written into router bundles.
FEATURE_SET = "router.window/1"
#: Look-backs of the call counts and busy shares, seconds (None: the previous window).
SPANS = (("prev", None), ("1h", 3_600.0), ("6h", 21_600.0))
GAP_HISTORY = 10
FEATURES = (
    "hour_sin", "hour_cos", "dow_sin", "dow_cos", "log_memory_mb", "log_payload_kb",
    "log_calls_prev", "log_calls_1h", "log_calls_6h", "busy_prev", "busy_1h", "busy_6h",
    "log_gap_s", "gap_cv", "log_fn_price", "log_ct_price", "carbon_fn", "carbon_ct",
)  # fmt: skip


@dataclass(frozen=True)
class RouterData:
    """The window rows and, per call, what the simulator needs to replay a routing."""

    windows: pd.DataFrame
    #: Per call: its best function and container placements, and its window's row.
    fn_placement: NDArray[np.int64]
    ct_placement: NDArray[np.int64]
    row_of_call: NDArray[np.int64]
    window_s: float


def subsample_functions(trace: Trace, max_rows: int, window_min: float, seed: int) -> Trace:
    """A seeded subset of whole functions with at most ``max_rows`` windows between them.

    Functions are kept whole (all their calls), so warm pools and history stay what they were;
    at least one function is kept.
    """
    from skyroute.world.traces.schema import function_slice

    check_max_rows(max_rows)
    windows = windows_of(
        trace.function.astype(np.int64), trace.timestamp_s, window_seconds(window_min)
    )
    if len(windows) <= max_rows:
        return trace
    per_function = np.bincount(windows.function, minlength=trace.n_functions)
    shuffled = np.random.default_rng(seed).permutation(np.flatnonzero(per_function))
    fits = np.cumsum(per_function[shuffled]) <= max_rows
    fits[0] = True
    keep = np.zeros(trace.n_functions, dtype=bool)
    keep[shuffled[fits]] = True
    return function_slice(trace, keep)


def build_dataset(
    trace: Trace, world: World, seed: int = 0, window_min: float = WINDOW_MIN
) -> RouterData:
    """One row per (function, window): FEATURES, both counterfactual sums and the label."""
    from skyroute.world.objective import Objective, with_trace_scale
    from skyroute.world.policies.base import choose, objective_score, placement_mask
    from skyroute.world.requests import actual_invocations, requests_from_trace
    from skyroute.world.simulator import simulate_placement

    if len(trace) == 0:
        raise ConfigError("the trace has no invocations", "pass a trace with at least one call")
    width = window_seconds(window_min)
    inv = actual_invocations(trace, world)
    objective = with_trace_scale(Objective(), inv, world)
    requests = requests_from_trace(trace, world)
    best = {
        platform: choose(
            requests, world, objective, objective_score(objective),
            placement_mask(world, platform=platform, purchase="on-demand"),
        )
        for platform in ("function", "container")
    }  # fmt: skip
    windows = windows_of(trace.function.astype(np.int64), trace.timestamp_s, width)
    frame = _features(trace, world, requests.expected, windows, best, width)
    frame.insert(0, "function", windows.function)
    frame.insert(1, "window", windows.index)
    frame.insert(2, "start_s", windows.start_s)
    frame.insert(3, "n_calls", windows.n_calls)
    for platform, short in (("function", "fn"), ("container", "ct")):
        result = simulate_placement(trace, best[platform], world, objective, seed)
        for name, values in (
            ("objective", result.objective),
            ("cost_usd", result.outcome.cost_usd),
        ):
            frame[f"{short}_{name}"] = np.bincount(
                windows.row_of_call, weights=values, minlength=len(windows)
            )
    frame["label_container"] = (frame["ct_objective"] < frame["fn_objective"]).astype(np.int64)
    return RouterData(frame, best["function"], best["container"], windows.row_of_call, width)


def _features(
    trace: Trace,
    world: World,
    profile: Invocations,
    windows: Windows,
    best: dict[str, NDArray[np.int64]],
    width: float,
) -> pd.DataFrame:
    from skyroute.world.physics import observed_gb
    from skyroute.world.requests import HOURS_PER_YEAR, start_hour_of_year

    fn = trace.function.astype(np.int64)
    first = windows.first_call
    start = windows.start_s
    frame = pd.DataFrame(index=np.arange(len(windows)))
    hour = start / 3600.0 + start_hour_of_year(trace.start)
    day = np.floor(hour / 24.0)
    for name, angle in (("hour", 2 * np.pi * hour / 24), ("dow", 2 * np.pi * day / 7)):
        frame[f"{name}_sin"], frame[f"{name}_cos"] = np.sin(angle), np.cos(angle)
    frame["log_memory_mb"] = np.log10(profile.memory_mb[first])
    frame["log_payload_kb"] = np.log1p(profile.payload_kb[first])
    history = History.of(fn, trace.timestamp_s, max(width, *(s for _, s in SPANS if s)))
    duration_s = profile.duration_ms[first] / 1000.0
    for name, span in SPANS:
        seconds = span or width
        calls = history.calls_before(windows.function, start, seconds)
        frame[f"log_calls_{name}"] = np.log1p(calls)
        frame[f"busy_{name}"] = np.log10(1e-6 + calls * duration_s / seconds)
    frame["log_gap_s"] = np.log1p(history.gap_before(windows.function, start))
    previous = history.previous_call(windows.function, start)
    cv = gap_variability(fn, trace.timestamp_s, GAP_HISTORY)
    frame["gap_cv"] = np.where(previous >= 0, cv[np.maximum(previous, 0)], 0.0)
    p = world.placements
    fn_at, ct_at = best["function"][first], best["container"][first]
    # Azure Consumption bills observed memory: priced here at the profile's footprint.
    observed = observed_gb(profile.memory_mb[first], p.take(fn_at))
    fn_price = p.usd_per_second[fn_at] + observed * p.usd_per_observed_gb_second[fn_at]
    frame["log_fn_price"] = np.log10(np.maximum(fn_price, 1e-15))
    frame["log_ct_price"] = np.log10(np.maximum(p.usd_per_second[ct_at], 1e-15))
    hour_of_year = np.floor(hour).astype(np.int64) % HOURS_PER_YEAR
    frame["carbon_fn"] = world.carbon[p.region[fn_at], hour_of_year] / 1000.0
    frame["carbon_ct"] = world.carbon[p.region[ct_at], hour_of_year] / 1000.0
    return frame


def write_dataset(data: RouterData, out_dir: Path) -> None:
    from skyroute.io import staged_output_dir

    with staged_output_dir(out_dir) as stage:
        data.windows.to_parquet(stage / "dataset.parquet", index=False)
        (stage / "FEATURES.txt").write_text("\n".join(FEATURES) + "\n", encoding="utf-8")
