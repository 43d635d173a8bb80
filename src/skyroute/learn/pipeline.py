"""The whole hierarchy run: split the trace, train three layers, export, then evaluate them.

Held out for evaluation: the last ``holdout_hours`` of the trace (all functions) and one in
five functions (chosen by a hash of the function's name, so the choice is stable across runs),
which never appear in training.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from skyroute.errors import ConfigError
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.hierarchy import (
    Progress,
    export_layer,
    fingerprint,
    split_by_time,
    strategic_module,
    tactical_module,
    trained_until,
)
from skyroute.world.traces.schema import Trace

MIN_TRAIN_INVOCATIONS = 500
HOLDOUT_FUNCTION_SHARE = 5  # one in five


def held_out_functions(trace: Trace) -> np.ndarray:
    """True for the functions kept out of training (stable: a hash of the name)."""
    return np.array(
        [int(hashlib.sha256(n.encode()).hexdigest(), 16) % HOLDOUT_FUNCTION_SHARE == 0
         for n in trace.function_names]
    )  # fmt: skip


def _only(trace: Trace, functions: np.ndarray) -> Trace:
    from dataclasses import replace

    keep = functions[trace.function]
    return replace(
        trace,
        function=trace.function[keep],
        app=trace.app[keep],
        timestamp_s=trace.timestamp_s[keep],
        duration_ms=trace.duration_ms[keep],
        memory_mb=trace.memory_mb[keep],
        payload_kb=trace.payload_kb[keep],
        origin=trace.origin[keep],
    )


def load(spec: str, seed: int) -> Trace:
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.traces.spec import load_trace

    return load_trace(spec, seed=seed, known_regions=region_ids(load_catalog()))


def splits(trace: Trace, holdout: float) -> tuple[Trace, Trace, Trace, float]:
    """(training, held-out hours, held-out functions, cut in seconds)."""
    by_time = split_by_time(trace, holdout)
    unseen = held_out_functions(trace)
    train = _only(by_time.train, ~unseen)
    if len(train) < MIN_TRAIN_INVOCATIONS or len(by_time.held_out) == 0 or not unseen.any():
        raise ConfigError(
            f"the trace is too small to split ({len(train)} training invocations)",
            "use a trace with more functions and hours (e.g. synthetic:functions=200,days=2)",
        )
    return train, by_time.held_out, _only(by_time.train, unseen), by_time.cut_s


class TorchPredictor:
    """A trained torch module with the bundles' ``predict(x) -> scores`` interface."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out: np.ndarray = self.module(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy()
        return out


def train_hierarchy(
    config: HierarchyConfig, out_dir: Path, report: Progress | None
) -> dict[str, Any]:
    """LSTM forecaster first (the layers read its forecast), then tactical, then strategic."""
    from skyroute.learn.hierarchy import experience, fit_strategic, fit_tactical
    from skyroute.learn.seeding import seed_everything
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.envs.dynamics import build_env_data
    from skyroute.world.envs.strategic import StrategicEnv
    from skyroute.world.envs.tactical import TacticalEnv
    from skyroute.world.model import build_world
    from skyroute.world.objective import Objective
    from skyroute.world.observations import (
        CANDIDATES_PER_PROVIDER,
        strategic_contract,
        tactical_contract,
    )
    from skyroute.world.policies.learned import forecast_rates
    from skyroute.world.requests import requests_from_trace

    seed_everything(config.seed)
    trace = load(config.trace, config.seed)
    train, _, _, cut = splits(trace, config.holdout_hours)
    until, data_id = trained_until(trace, cut), fingerprint(trace)
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    timings: dict[str, float] = {}

    start = time.perf_counter()
    forecaster, scores, x_test = _train_forecaster(trace, cut, config, report)
    timings["forecast_s"] = time.perf_counter() - start

    start = time.perf_counter()
    rates = forecast_rates(TorchPredictor(forecaster), requests_from_trace(train, world))
    data = build_env_data(train, world, Objective(), config.seed, rates)
    rng = np.random.default_rng(config.seed)
    rows = np.sort(rng.choice(data.n_rows, min(config.samples, data.n_rows), replace=False))
    exp = experience(data, rows.astype(np.int64), report)
    timings["experience_s"] = time.perf_counter() - start
    start = time.perf_counter()
    tactical = fit_tactical(train, world, exp, config, report)
    timings["tactical_s"] = time.perf_counter() - start
    start = time.perf_counter()
    strategic = fit_strategic(train, world, exp, tactical, config, report)
    timings["strategic_s"] = time.perf_counter() - start

    probe_rows = np.arange(min(256, len(train)), dtype=np.int64)
    s_env = StrategicEnv(train, world, episode_length=config.episode_length)
    t_env = TacticalEnv(train, world, provider="aws", episode_length=config.episode_length)
    s_probe = s_env.observe(probe_rows)
    t_probe = t_env.observe(probe_rows)
    export_layer(
        out_dir, name="strategic", kind="placement.strategic", module=strategic_module(strategic),
        n_inputs=s_probe.shape[1], n_outputs=3, probe=s_probe, config=config, until=until,
        data=data_id, metrics={"fit_samples": len(rows), "train_steps": config.dqn_steps},
        observation=strategic_contract(world.providers),
    )  # fmt: skip
    export_layer(
        out_dir, name="tactical", kind="placement.tactical", module=tactical_module(tactical),
        n_inputs=t_probe.shape[1], n_outputs=CANDIDATES_PER_PROVIDER, probe=t_probe,
        config=config, until=until, data=data_id, observation=tactical_contract(),
        metrics={"fit_samples": len(rows), "train_steps": config.ppo_steps},
    )  # fmt: skip
    export_layer(
        out_dir, name="forecast", kind="forecast.load", module=forecaster, n_inputs=config.window,
        n_outputs=1, probe=x_test[:256], config=config, until=until, data=data_id,
        metrics={"r2_held_out_hours": scores.r2, "rmse": scores.rmse,
                 "naive_last_value_rmse": scores.naive_rmse},
    )  # fmt: skip
    summary = {
        "trace": config.trace,
        "train_invocations": len(train),
        "fit_samples": len(rows),
        "trained_until": until,
        "forecast": {"r2": scores.r2, "rmse": scores.rmse, "naive_rmse": scores.naive_rmse},
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "config": config.to_dict(),
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _train_forecaster(
    trace: Trace, cut: float, config: HierarchyConfig, report: Progress | None
) -> tuple[Any, Any, np.ndarray]:
    """The load LSTM on the training functions' minutes before the cut, scored after it."""
    from skyroute.learn import forecast

    counts = forecast.minute_counts(_only(trace, ~held_out_functions(trace)))
    cut_minute = int(cut // 60)
    x_train, y_train = forecast.windows(counts, config.window, 0, cut_minute, config.seed)
    x_test, y_test = forecast.windows(
        counts, config.window, cut_minute - config.window, counts.shape[1], config.seed
    )

    def on_epoch(epoch: int) -> None:
        if report is not None:
            report("load LSTM", epoch + 1, config.lstm_epochs)

    model = forecast.train(
        x_train, y_train, window=config.window, hidden=config.lstm_hidden,
        epochs=config.lstm_epochs, learning_rate=config.lstm_learning_rate,
        under_weight=config.under_weight, on_epoch=on_epoch,
    )  # fmt: skip
    predicted = TorchPredictor(model).predict(x_test).ravel()
    return model, forecast.score(predicted, x_test, y_test), x_test


def oracle_gain(metrics: dict[str, Any], name: str) -> float:
    """Share of the oracle's gain over the best single provider that ``name`` captures."""
    best_single = min(metrics[p]["objective"] for p in ("only-aws", "only-azure", "only-gcp"))
    oracle = metrics["oracle"]["objective"]
    if best_single - oracle <= 0:
        return float("nan")
    return float((best_single - metrics[name]["objective"]) / (best_single - oracle))


def evaluate_hierarchy(spec: str, bundles: Path, out_dir: Path, seed: int) -> dict[str, Any]:
    from skyroute.bundles import read_bundle
    from skyroute.report.simulation import write_comparison
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.compare import compare
    from skyroute.world.model import build_world
    from skyroute.world.objective import Objective
    from skyroute.world.policies import POLICIES
    from skyroute.world.policies.learned import HierarchicalPolicy

    layers = {}
    for name in ("strategic", "tactical"):
        if not (bundles / name / "bundle.json").is_file():
            raise ConfigError(
                f"{bundles / name} holds no bundle", "run `skyroute train hierarchy` first"
            )
        layers[name] = read_bundle(bundles / name).predictor()
    training = json.loads((bundles / "training.json").read_text(encoding="utf-8"))
    trace = load(spec, training["config"]["seed"])
    _, hours, functions, _ = splits(trace, float(training["config"]["holdout_hours"]))
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    policy = HierarchicalPolicy(layers["strategic"], layers["tactical"])
    summary: dict[str, Any] = {}
    for label, part in (("held-out-hours", hours), ("held-out-functions", functions)):
        result = compare(
            part, f"{spec} ({label})", POLICIES.names(), world, Objective(), seed,
            extra={"hierarchical": policy},
        )  # fmt: skip
        (out_dir / label).mkdir()
        write_comparison(out_dir / label, result, Objective())
        metrics: dict[str, dict[str, Any]] = {k: dict(v) for k, v in result.metrics.items()}
        beaten = [
            p for p in metrics
            if p not in ("oracle", "hierarchical")
            and metrics[p]["objective"] <= metrics["hierarchical"]["objective"]
        ]  # fmt: skip
        summary[label] = {
            "invocations": len(part),
            "objective": {k: round(v["objective"], 4) for k, v in metrics.items()},
            "oracle_gain_captured": round(oracle_gain(metrics, "hierarchical"), 3),
            "baselines_not_beaten": beaten,
        }
    (out_dir / "evaluation.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
