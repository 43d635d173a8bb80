"""The router run end to end: windows → families → best → threshold → bundle, report, simulation.

The routing threshold: the label compares the two platforms with each one's pool already warm
(``skyroute.learn.dataset``), while a router that moves a function to containers pays the
container's cold start first. So P(container) ≥ 0.5 is not the decision rule; the threshold is
the one among :data:`THRESHOLDS` whose replay of the *training* hours has the lowest objective,
written into the bundle (``params.threshold``) and applied by the server's ``/route``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skyroute.errors import ConfigError
from skyroute.learn.config import RouterConfig
from skyroute.learn.dataset import FEATURE_SET, RouterData, build_dataset
from skyroute.learn.router import Report, matrix
from skyroute.learn.router_report import RouterRun
from skyroute.world.model import World
from skyroute.world.traces.schema import Trace

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def holdout_cut(trace: Trace, holdout: float, window_s: float) -> float:
    """Start of the held-out hours (the last ``holdout`` share), on the window grid."""
    return float(np.ceil(trace.timestamp_s[-1] * (1.0 - holdout) / window_s) * window_s)


def routed(data: RouterData, p_container: np.ndarray, threshold: float) -> np.ndarray:
    """Per call: its window's container placement where P(container) ≥ threshold."""
    use = p_container[data.row_of_call] >= threshold
    return np.where(use, data.ct_placement, data.fn_placement).astype(np.int64)


def calibrate(
    trace: Trace, data: RouterData, p_container: np.ndarray, cut_s: float, world: World, seed: int
) -> tuple[float, list[dict[str, float]]]:
    """The threshold with the lowest objective on the training hours' replay (ties: higher)."""
    from skyroute.world.simulator import simulate_placement
    from skyroute.world.traces.schema import time_slice

    early = trace.timestamp_s < cut_s
    part = time_slice(trace, 0.0, cut_s)
    table = []
    for threshold in THRESHOLDS:
        plan = routed(data, p_container, threshold)[early]
        result = simulate_placement(part, plan, world, None, seed, "router")
        share = float(np.mean(plan != data.fn_placement[early]))
        table.append(
            {
                "threshold": threshold,
                "objective": float(result.objective.mean()),
                "container_share": share,
            }
        )
    best = min(table, key=lambda row: (row["objective"], -row["threshold"]))
    return best["threshold"], table


def simulate_router(
    trace: Trace,
    data: RouterData,
    p_container: np.ndarray,
    threshold: float,
    cut_s: float,
    world: World,
    seed: int,
) -> dict[str, Any]:
    """Function-only vs container-only vs the router on the held-out hours, same draws."""
    from skyroute.world.metrics import summarise
    from skyroute.world.simulator import simulate_placement
    from skyroute.world.traces.schema import time_slice

    held = trace.timestamp_s >= cut_s
    part = time_slice(trace, cut_s, float(trace.timestamp_s[-1]) + 1.0)
    plans = {
        "function-only": data.fn_placement[held],
        "container-only": data.ct_placement[held],
        "router": routed(data, p_container, threshold)[held],
    }
    if threshold != 0.5:
        plans["router at P ≥ 0.5"] = routed(data, p_container, 0.5)[held]
    policies = {
        name: dict(summarise(simulate_placement(part, plan, world, None, seed, name), world))
        for name, plan in plans.items()
    }
    windows = data.windows["start_s"].to_numpy() >= cut_s
    label = data.windows["label_container"].to_numpy()[windows].astype(bool)
    accuracy = float(np.mean((p_container[windows] >= threshold) == label))
    return {
        "policies": policies,
        "routing_accuracy": accuracy,
        "verdict": verdict(policies),
    }


def verdict(policies: dict[str, Any]) -> str:
    router = policies["router"]["objective"]
    rivals = {n: policies[n]["objective"] for n in ("function-only", "container-only")}
    beaten = [n for n, v in rivals.items() if router < v]
    if len(beaten) == 2:
        return "The router beats function-only and container-only on the objective."
    tied = [n for n, v in rivals.items() if router == v]
    others = ", ".join(f"{n} {rivals[n]:.4f}" for n in rivals if n not in beaten)
    what = "ties" if tied else "does not beat"
    return f"The router ({router:.4f}) {what} {others}."


def _check_split(data: RouterData, cut_s: float) -> None:
    frame = data.windows
    train = frame["label_container"][frame["start_s"] < cut_s]
    test = frame["start_s"] >= cut_s
    if train.nunique() < 2 or not test.any():
        raise ConfigError(
            f"the trace is too small to train a router ({len(train)} training windows, "
            f"{int(train.sum())} where containers win, {int(test.sum())} held out)",
            "use a trace with more functions and hours, or drop --max-rows",
        )


def _prepare(config: RouterConfig) -> tuple[Trace, World, RouterData, float]:
    """The (sub-sampled) trace, its world, the window dataset and the held-out cut."""
    from skyroute.learn.dataset import subsample_functions
    from skyroute.learn.pipeline import load
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.model import build_world

    trace = load(config.trace, config.seed)
    if config.max_rows is not None:
        trace = subsample_functions(trace, config.max_rows, config.window_min, config.seed)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    data = build_dataset(trace, world, config.seed, config.window_min)
    cut = holdout_cut(trace, config.holdout_hours, data.window_s)
    _check_split(data, cut)
    return trace, world, data, cut


def training_reference(trace: Trace, world: World, cut: float, seed: int) -> dict[str, Any]:
    """The /decide profile fields of the calls before the holdout cut (the input drift check's
    reference in the bundle)."""
    from skyroute.learn.hierarchy import profile_reference
    from skyroute.world.requests import requests_from_trace
    from skyroute.world.traces.schema import time_slice

    return profile_reference(requests_from_trace(time_slice(trace, 0.0, cut), world), seed)


def _export(
    run: RouterRun,
    train: pd.DataFrame,
    trace: Trace,
    cut: float,
    out_dir: Path,
    reference: dict[str, Any],
) -> None:
    from skyroute.learn import router
    from skyroute.learn.hierarchy import trained_until

    best, policies = run.best, run.simulated["policies"]
    router.export(
        best,
        out_dir,
        trained_until=trained_until(trace, cut),
        metrics={
            "max_feature_share": max(run.importance.values()),
            # Permutation importance per feature (shares summing to 1): the dashboard's bars.
            "feature_importance": {name: round(share, 4) for name, share in run.importance.items()},
            "routing_accuracy": run.simulated["routing_accuracy"],
            "simulator_objective": {name: m["objective"] for name, m in policies.items()},
        },
        params={
            **run.config,
            "family": best.name,
            "hyper_parameters": router.hyper_parameters(best),
            "positive_weight": router.positive_weight(train["label_container"].to_numpy()),
            "threshold": run.threshold,
            "feature_set": FEATURE_SET,
        },
        libraries=router.libraries_used(run.config["families"], router.export_format(best)),
        data_fingerprint=run.dataset["fingerprint"],
        reference=reference,
    )


def train_router(
    config: RouterConfig, out_dir: Path, report: Report | None = None
) -> dict[str, Any]:
    from skyroute.learn import router
    from skyroute.learn.hierarchy import fingerprint
    from skyroute.learn.router_explain import explain
    from skyroute.learn.router_report import write_plots, write_report
    from skyroute.learn.seeding import seed_everything

    started = time.perf_counter()
    seed = config.seed
    seed_everything(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    trace, world, data, cut = _prepare(config)
    train, test = router.split(data.windows, cut, seed)
    results = router.train_families(config.families, train, test, seed, report)
    best = router.pick(results)
    p_container = best.model.predict_proba(matrix(data.windows))[:, 1]
    threshold, calibration = calibrate(trace, data, p_container, cut, world, seed)
    dataset: dict[str, Any] = {
        "calls": len(trace),
        "functions": int(np.unique(trace.function).size),
        "windows": len(data.windows),
        "train_windows": len(train),
        "test_windows": len(test),
        "label_container_share": float(data.windows["label_container"].mean()),
        "fingerprint": fingerprint(trace),
    }
    run = RouterRun(
        config=config.to_dict(), dataset=dataset, results=results, best=best,
        importance=router.importance(best, test, seed), shap=explain(best, matrix(test), seed),
        calibration=calibration, threshold=threshold,
        simulated=simulate_router(trace, data, p_container, threshold, cut, world, seed),
    )  # fmt: skip
    write_plots(run, test["label_container"].to_numpy(), out_dir, seed)
    write_report(run, out_dir)
    _export(run, train, trace, cut, out_dir, training_reference(trace, world, cut, seed))
    return {
        "chosen": best.name,
        "accuracy": round(best.metrics["accuracy"], 4),
        "f1": round(best.metrics["f1"], 4),
        "train_test_gap": round(best.metrics["train_test_gap"], 4),
        "max_feature_share": round(max(run.importance.values()), 3),
        "label_container_share": round(dataset["label_container_share"], 4),
        "threshold": threshold,
        "objective": {n: round(m["objective"], 4) for n, m in run.simulated["policies"].items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
