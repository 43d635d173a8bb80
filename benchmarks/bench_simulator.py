"""Simulator speed: the default trace under each policy, and the ratio to the reference loop.

Run with ``make bench`` (pinned to one core with taskset). Prints a Markdown table to paste
into docs/benchmarks.md; every figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from skyroute.world.catalog.loader import load_catalog, region_ids
from skyroute.world.model import build_world
from skyroute.world.objective import Objective
from skyroute.world.policies import POLICIES, make_policy
from skyroute.world.reference import reference_replay
from skyroute.world.requests import actual_invocations, requests_from_trace
from skyroute.world.simulator import Draws, replay, simulate
from skyroute.world.traces.spec import load_trace


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", default="default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-sample", type=int, default=20_000)
    args = parser.parse_args()

    catalog = load_catalog()
    trace = load_trace(args.trace, known_regions=region_ids(catalog))
    world = build_world(catalog, origins=list(trace.origin_names))
    n = len(trace)
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"trace {args.trace}: {n:,} invocations, {world.n_placements} placements\n")
    print("| policy | median s (whole simulate) | invocations/s |")
    print("|---|---:|---:|")
    for name in POLICIES.names():
        seconds = median_seconds(
            lambda name=name: simulate(trace, make_policy(name), world, Objective()), args.repeat
        )
        print(f"| {name} | {seconds:.2f} | {n / seconds:,.0f} |")

    # Replay alone (the part the reference loop restates), vectorised vs loop, same placements.
    requests = requests_from_trace(trace, world)
    actual = actual_invocations(trace, world)
    draws = Draws.for_trace(n, 0)
    placement = make_policy("greedy").decide(requests, world, Objective())
    fast = median_seconds(
        lambda: replay(actual, requests.function, requests.timestamp_s, placement, world, draws),
        args.repeat,
    )
    k = min(args.reference_sample, n)
    sample = slice(0, k)
    sub_actual = type(actual)(*(a[sample] for a in actual))
    sub_draws = Draws(draws.cold_u[sample], draws.cold_z[sample], draws.spot_u[sample])
    slow = median_seconds(
        lambda: reference_replay(
            sub_actual,
            requests.function[sample],
            requests.timestamp_s[sample],
            placement[sample],
            world,
            sub_draws,
        ),
        1,
    )
    fast_rate, slow_rate = n / fast, k / slow
    print(f"\nreplay (vectorised): {fast:.3f} s for {n:,} → {fast_rate:,.0f} invocations/s")
    print(f"reference loop: {slow:.2f} s for {k:,} → {slow_rate:,.0f} invocations/s")
    print(f"ratio: {fast_rate / slow_rate:,.0f}x")
    np.testing.assert_allclose(
        replay(
            sub_actual,
            requests.function[sample],
            requests.timestamp_s[sample],
            placement[sample],
            world,
            sub_draws,
        ).cost_usd,
        reference_replay(
            sub_actual,
            requests.function[sample],
            requests.timestamp_s[sample],
            placement[sample],
            world,
            sub_draws,
        ).cost_usd,
    )


if __name__ == "__main__":
    main()
