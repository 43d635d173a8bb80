"""The learned hierarchy on one trace: per-layer diagnosis and the sticky hindsight bound.

For docs/benchmarks.md ("Hierarchical policy"). Prints, for a trace spec (or one of the default
trace's held-out sets), the objective of greedy, the oracle, the best single provider, the
hierarchy with one learned layer at a time replaced by its greedy counterpart, and the best
single placement per function in hindsight (every placement replayed for every function: the
ceiling of a policy that keeps a function's calls together). Example:
``.venv/bin/python benchmarks/bench_hierarchy.py --bundles out/hierarchy --held-out hours``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from skyroute.learn.pipeline import layer_diagnosis, load, splits
from skyroute.world.catalog.loader import load_catalog
from skyroute.world.model import World, build_world
from skyroute.world.objective import Objective
from skyroute.world.policies import make_policy
from skyroute.world.policies.bundled import learned_policies
from skyroute.world.requests import requests_from_trace
from skyroute.world.simulator import simulate, simulate_placement
from skyroute.world.traces.schema import Trace


def sticky_bound(trace: Trace, world: World, seed: int) -> float:
    """Mean objective when each function runs all its calls on its best placement in hindsight."""
    n, n_fn = len(trace), trace.n_functions
    footprint = np.zeros(n_fn)
    footprint[trace.function] = requests_from_trace(trace, world).expected.memory_mb
    totals = np.full((n_fn, world.n_placements), np.inf)
    for j in range(world.n_placements):
        result = simulate_placement(trace, np.full(n, j), world, Objective(), seed)
        per_function = np.bincount(trace.function, weights=result.objective, minlength=n_fn)
        fits = world.placements.memory_mb[j] >= footprint  # memory is a hard constraint
        totals[:, j] = np.where(fits, per_function, np.inf)
    called = np.bincount(trace.function, minlength=n_fn) > 0
    return float(totals.min(axis=1)[called].sum() / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=Path, default=Path("out/hierarchy"))
    parser.add_argument("--trace", default="default")
    parser.add_argument("--held-out", choices=("hours", "functions"), default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    trace = load(args.trace, 0)
    if args.held_out is not None:
        _, hours, functions, _ = splits(trace, 0.25)
        trace = hours if args.held_out == "hours" else functions
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    policy = learned_policies(args.bundles, world.providers)["hierarchical"]
    rows = {
        name: float(
            simulate(trace, make_policy(name), world, Objective(), args.seed).objective.mean()
        )
        for name in ("greedy", "oracle", "only-aws", "only-azure", "only-gcp")
    }
    rows |= layer_diagnosis(trace, world, policy, args.seed)
    rows["best single placement per function, in hindsight"] = sticky_bound(trace, world, args.seed)
    best_single = min(rows["only-aws"], rows["only-azure"], rows["only-gcp"])
    print(f"| {args.trace} {args.held_out or ''} (seed {args.seed}) | objective | oracle gain |")
    print("|---|---:|---:|")
    for name, value in rows.items():
        share = (best_single - value) / (best_single - rows["oracle"])
        print(f"| {name} | {value:.4f} | {share:.1%} |")


if __name__ == "__main__":
    main()
