"""The router run end to end: dataset → four families → best → bundle, report and simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skyroute.learn.dataset import FEATURES, build_dataset
from skyroute.learn.router import (
    export,
    importance,
    pick,
    shap_summary,
    split,
    train_families,
    write_report,
)


def _importance_plot(importances: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(importances, key=importances.__getitem__)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.axvline(0.40, color="tab:red", ls="--", label="40 % dominance limit")
    ax.set_xlabel("share of permutation importance (held-out hours)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def simulate_router(
    trace: Any, frame: pd.DataFrame, model: Any, cut_s: float, world: Any, seed: int
) -> dict[str, Any]:
    """Function-only vs container-only vs router on the held-out hours, same draws."""
    from skyroute.world.metrics import summarise
    from skyroute.world.simulator import simulate_placement
    from skyroute.world.traces.schema import time_slice

    held = frame["timestamp_s"].to_numpy() >= cut_s
    part = time_slice(trace, cut_s, float(trace.timestamp_s[-1]) + 1.0)
    rows = frame[held]
    predicted = model.predict_proba(rows[list(FEATURES)].to_numpy(np.float32))[:, 1] >= 0.5
    plans = {
        "function-only": rows["fn_placement"].to_numpy(np.int64),
        "container-only": rows["ct_placement"].to_numpy(np.int64),
        "router": np.where(predicted, rows["ct_placement"], rows["fn_placement"]).astype(np.int64),
    }
    policies = {
        name: dict(summarise(simulate_placement(part, plan, world, None, seed, name), world))
        for name, plan in plans.items()
    }
    accuracy = float(np.mean(predicted == rows["label_container"].to_numpy().astype(bool)))
    return {"policies": policies, "routing_accuracy": accuracy}


def train_router(spec: str, out_dir: Path, seed: int, report: Any = None) -> dict[str, Any]:
    from skyroute.learn.hierarchy import trained_until
    from skyroute.learn.pipeline import load
    from skyroute.learn.seeding import seed_everything
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.model import build_world

    seed_everything(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    trace = load(spec, seed)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    frame = build_dataset(trace, world, seed)
    holdout = 0.25
    train, test = split(frame, holdout, seed)
    cut = float(frame["timestamp_s"].max()) * (1.0 - holdout)
    results = train_families(train, test, seed, report)
    best = pick(results)
    shares = importance(best, test, seed)
    _importance_plot(shares, out_dir / "importance.png")
    shap_summary(results, test, out_dir / "shap_summary.png", seed)
    simulated = simulate_router(trace, frame, best.model, cut, world, seed)
    export(
        best,
        out_dir,
        trained_until(trace, cut),
        {
            "max_feature_share": max(shares.values()),
            "routing_accuracy": simulated["routing_accuracy"],
        },
    )
    write_report(out_dir, results, best, shares, simulated)
    return {
        "chosen": best.name,
        "accuracy": round(best.metrics["accuracy"], 4),
        "f1": round(best.metrics["f1"], 4),
        "train_test_gap": round(best.metrics["train_test_gap"], 4),
        "max_feature_share": round(max(shares.values()), 3),
        "label_container_share": round(float(frame["label_container"].mean()), 4),
        "routing_accuracy": round(simulated["routing_accuracy"], 4),
    }
