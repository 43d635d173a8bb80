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
from typing import TYPE_CHECKING, Any

import numpy as np

from skyroute.errors import ConfigError
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.hierarchy import (
    Progress,
    export_layer,
    fingerprint,
    profile_reference,
    split_by_time,
    strategic_module,
    tactical_module,
    trained_until,
)
from skyroute.world.traces.schema import Trace, function_slice

if TYPE_CHECKING:
    from skyroute.learn.forecast_eval import ForecastRun

MIN_TRAIN_INVOCATIONS = 500
HOLDOUT_FUNCTION_SHARE = 5  # one in five


def validation_functions(trace: Trace, share: float) -> np.ndarray:
    """True for about ``share`` of the functions (by a hash of the name, salted so as not to
    repeat :func:`held_out_functions`'s choice)."""
    buckets = 1000
    return np.array(
        [int(hashlib.sha256(f"validation:{n}".encode()).hexdigest(), 16) % buckets < share * buckets
         for n in trace.function_names]
    )  # fmt: skip


def held_out_functions(trace: Trace) -> np.ndarray:
    """True for the functions kept out of training (stable: a hash of the name)."""
    return np.array(
        [int(hashlib.sha256(n.encode()).hexdigest(), 16) % HOLDOUT_FUNCTION_SHARE == 0
         for n in trace.function_names]
    )  # fmt: skip


def load(spec: str, seed: int) -> Trace:
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.traces.spec import load_trace

    return load_trace(spec, seed=seed, known_regions=region_ids(load_catalog()))


def splits(trace: Trace, holdout: float) -> tuple[Trace, Trace, Trace, float]:
    """(training, held-out hours, held-out functions, cut in seconds)."""
    by_time = split_by_time(trace, holdout)
    unseen = held_out_functions(trace)
    train = function_slice(by_time.train, ~unseen)
    if len(train) < MIN_TRAIN_INVOCATIONS or len(by_time.held_out) == 0 or not unseen.any():
        raise ConfigError(
            f"the trace is too small to split ({len(train)} training invocations)",
            "use a trace with more functions and hours (e.g. synthetic:functions=200,days=2)",
        )
    return train, by_time.held_out, function_slice(by_time.train, unseen), by_time.cut_s


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
    from skyroute.bundles.forecaster import HORIZON
    from skyroute.learn.hierarchy import experience, fit_strategic, fit_tactical
    from skyroute.learn.seeding import seed_everything
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.dynamics import build_env_data
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
    run = _train_forecaster(trace, cut, config, report)
    forecaster = run.model
    timings["forecast_s"] = time.perf_counter() - start

    start = time.perf_counter()
    train_requests = requests_from_trace(train, world)
    reference = profile_reference(train_requests, config.seed)
    rates = forecast_rates(TorchPredictor(forecaster), train_requests)
    data = build_env_data(train, world, Objective(), config.seed, rates)
    # Some training functions are never fitted on: they choose each fit's epoch and the margin.
    checking = validation_functions(train, config.validation_share)
    rng = np.random.default_rng(config.seed)
    sampled = {}
    for label, pool, size in (
        ("fit", np.flatnonzero(~checking[train.function]), config.samples),
        ("held", np.flatnonzero(checking[train.function]), max(config.samples // 4, 1)),
    ):
        sampled[label] = np.sort(rng.choice(pool, min(size, pool.size), replace=False))
    exp = experience(data, sampled["fit"].astype(np.int64), report)
    held = experience(data, sampled["held"].astype(np.int64), report)
    rows = sampled["fit"]
    timings["experience_s"] = time.perf_counter() - start
    start = time.perf_counter()
    tactical, tactical_fit = fit_tactical(train, world, exp, held, config, report)
    timings["tactical_s"] = time.perf_counter() - start
    start = time.perf_counter()
    strategic, strategic_fit = fit_strategic(train, world, exp, held, tactical, config, report)
    timings["strategic_s"] = time.perf_counter() - start
    start = time.perf_counter()
    margins = select_margin(
        function_slice(train, checking), world, strategic, tactical, forecaster, config
    )
    margin = min(margins, key=margins.__getitem__)
    timings["margin_s"] = time.perf_counter() - start

    probe_rows = np.arange(min(256, len(train)), dtype=np.int64)
    s_env = StrategicEnv(train, world, episode_length=config.episode_length)
    t_env = TacticalEnv(train, world, provider="aws", episode_length=config.episode_length)
    s_probe = s_env.observe(probe_rows)
    t_probe = t_env.observe(probe_rows)
    export_layer(
        out_dir, name="strategic", kind="placement.strategic",
        module=strategic_module(strategic, margin),
        n_inputs=s_probe.shape[1], n_outputs=3, probe=s_probe, config=config, until=until,
        data=data_id, metrics={"fit_samples": len(rows), "train_steps": config.dqn_steps},
        observation=strategic_contract(world.providers), reference=reference,
    )  # fmt: skip
    export_layer(
        out_dir, name="tactical", kind="placement.tactical",
        module=tactical_module(tactical, margin),
        n_inputs=t_probe.shape[1], n_outputs=CANDIDATES_PER_PROVIDER, probe=t_probe,
        config=config, until=until, data=data_id, observation=tactical_contract(),
        reference=reference, metrics={"fit_samples": len(rows), "train_steps": config.ppo_steps},
    )  # fmt: skip
    export_layer(
        out_dir, name="forecast", kind="forecast.load", module=forecaster, n_inputs=config.window,
        n_outputs=HORIZON, probe=run.test.x[:256], config=config, until=until, data=data_id,
        metrics=run.metrics(),
    )  # fmt: skip
    summary = {
        "trace": config.trace,
        "train_invocations": len(train),
        "fit_samples": len(rows),
        "margin": margin,
        "fit": {"tactical": tactical_fit, "strategic": strategic_fit},
        "validation_objective_by_margin": margins,
        "trained_until": until,
        "forecast": run.metrics(),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "config": config.to_dict(),
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def select_margin(
    validation: Trace,
    world: Any,
    strategic: Any,
    tactical: Any,
    forecaster: Any,
    config: HierarchyConfig,
) -> dict[float, float]:
    """Objective on the validation functions for each of ``config.margins``.

    A margin keeps greedy's provider and rank-1 candidate unless a layer predicts a larger gain:
    a guard against the layers' estimation noise on calls unlike the training ones.
    """
    from skyroute.world.objective import Objective
    from skyroute.world.policies.learned import HierarchicalPolicy
    from skyroute.world.simulator import simulate

    out = {}
    for margin in config.margins:
        policy = HierarchicalPolicy(
            TorchPredictor(strategic_module(strategic, margin)),
            TorchPredictor(tactical_module(tactical, margin)),
            TorchPredictor(forecaster),
        )
        result = simulate(validation, policy, world, Objective(), config.seed)
        out[margin] = round(float(result.objective.mean()), 6)
    return out


def _train_forecaster(
    trace: Trace, cut: float, config: HierarchyConfig, report: Progress | None
) -> ForecastRun:
    """The load LSTM on the training functions' minutes before the cut, scored after it."""
    from skyroute.learn import forecast
    from skyroute.learn.forecast_eval import fit_and_score

    counts = forecast.minute_counts(trace, keep=~held_out_functions(trace))

    def on_epoch(epoch: int) -> None:
        if report is not None:
            report("load LSTM", epoch + 1, config.lstm_epochs)

    return fit_and_score(counts, int(cut // 60), config, on_epoch)


def oracle_gain(metrics: dict[str, Any], name: str) -> float:
    """Share of the oracle's gain over the best single provider that ``name`` captures."""
    best_single = min(metrics[p]["objective"] for p in ("only-aws", "only-azure", "only-gcp"))
    oracle = metrics["oracle"]["objective"]
    if best_single - oracle <= 0:
        return float("nan")
    return float((best_single - metrics[name]["objective"]) / (best_single - oracle))


def layer_diagnosis(part: Trace, world: Any, policy: Any, seed: int) -> dict[str, float]:
    """Objective with one learned layer at a time replaced by its greedy counterpart.

    Shows what each layer, and the forecast, adds: the strategic layer against the provider
    with the best expected candidate, the tactical against rank 1, the forecast against the
    profile's rate.
    """
    from skyroute.world.objective import Objective
    from skyroute.world.policies.learned import HierarchicalPolicy
    from skyroute.world.simulator import simulate

    s, t, f = policy.strategic, policy.tactical, policy.forecast
    variants = {
        "learned strategic + learned tactical + forecast": HierarchicalPolicy(s, t, f),
        "learned strategic + learned tactical, profile rate": HierarchicalPolicy(s, t, None),
        "greedy strategic + learned tactical + forecast": HierarchicalPolicy(None, t, f),
        "learned strategic + greedy tactical + forecast": HierarchicalPolicy(s, None, f),
        "greedy strategic + greedy tactical (= greedy)": HierarchicalPolicy(None, None, None),
    }
    return {
        label: round(float(simulate(part, p, world, Objective(), seed).objective.mean()), 4)
        for label, p in variants.items()
    }


def evaluate_hierarchy(spec: str, bundles: Path, out_dir: Path, seed: int) -> dict[str, Any]:
    """Every baseline, the oracle and the learned policy on both held-out sets.

    Each set is also written as ``trace.parquet``, so ``skyroute simulate --trace
    parquet:FILE --bundles DIR`` replays exactly it.
    """
    from skyroute.report.simulation import write_comparison
    from skyroute.world.catalog.loader import load_catalog
    from skyroute.world.compare import compare
    from skyroute.world.model import build_world
    from skyroute.world.objective import Objective
    from skyroute.world.policies import POLICIES
    from skyroute.world.policies.bundled import learned_policies
    from skyroute.world.traces.files import save_trace

    if not (bundles / "training.json").is_file():
        raise ConfigError(
            f"{bundles} holds no training.json", "run `skyroute train hierarchy --out DIR` first"
        )
    training = json.loads((bundles / "training.json").read_text(encoding="utf-8"))
    trace = load(spec, training["config"]["seed"])
    _, hours, functions, _ = splits(trace, float(training["config"]["holdout_hours"]))
    world = build_world(load_catalog(), origins=list(trace.origin_names))
    policy = learned_policies(bundles, world.providers)["hierarchical"]
    summary: dict[str, Any] = {}
    for label, part in (("held-out-hours", hours), ("held-out-functions", functions)):
        result = compare(
            part, f"{spec} ({label})", POLICIES.names(), world, Objective(), seed,
            extra={"hierarchical": policy},
        )  # fmt: skip
        (out_dir / label).mkdir()
        write_comparison(out_dir / label, result, Objective())
        save_trace(part, out_dir / label / "trace.parquet")
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
            "greedy_oracle_gain_captured": round(oracle_gain(metrics, "greedy"), 3),
            "baselines_not_beaten": beaten,
            "layers": layer_diagnosis(part, world, policy, seed),
        }
    (out_dir / "evaluation.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
