"""``hierarchy``: the hierarchical placement policy (``skyroute train hierarchy`` then
``skyroute evaluate``) as a sweepable trainer.

Its parameters are :class:`skyroute.learn.config.HierarchyConfig`'s fields less ``seed`` (the
run's seed is used). A run trains the three layers into ``run_dir/bundles`` (strategic,
tactical, forecast) and evaluates them on both held-out sets into ``run_dir/evaluation``.
The run's bundle is the **strategic** layer's folder (``bundles/strategic``), the one the
``hierarchical`` engine is keyed on; the tactical and forecast layers are kept as zipped
bundles among the artifacts (``tactical.zip``, ``forecast.zip``), with ``training.json``,
``evaluation.json`` and each held-out set's report and plots (prefixed ``hours_`` and
``functions_``, so no two artifacts share a name).

Metrics, for each held-out set (prefix ``hours_`` = the trace's last hours, ``functions_`` =
functions never trained on): ``objective`` (the learned policy's mean objective, lower is
better), ``greedy_objective``, ``oracle_objective``, ``vs_greedy`` (objective - greedy's:
below 0 beats greedy), ``oracle_gain`` (share of the oracle's gain over the best single
provider the policy captures) and ``baselines_not_beaten``; plus ``margin`` (the chosen
guard margin) and ``forecast_r2`` (the load forecaster's held-out R², mean over horizons).
Per epoch, the load forecaster's epochs are logged as ``forecast_epoch``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

from skyroute.experiments.trainer import RunContext, RunResult, Scale, Trainer, TrainerConfig
from skyroute.experiments.trainers.base import (
    config_from_dataclass,
    finite_metrics,
    rebuilt,
    to_dataclass,
)
from skyroute.learn.config import HierarchyConfig

HierarchyTrainerConfig = config_from_dataclass(
    "HierarchyTrainerConfig", HierarchyConfig, "hierarchy", __name__, exclude=("seed",)
)
#: ``scale="tiny"``: tests/learn/test_hierarchy_smoke.py's trace and budgets, no on-line
#: fine-tuning: about 15 s.
TINY: dict[str, Any] = {
    "trace": "synthetic:functions=60,days=1,seed=4",
    "samples": 3000,
    "epochs": 2,
    "lstm_epochs": 1,
    "dqn_steps": 0,
    "ppo_steps": 0,
}
SETS = {"hours": "held-out-hours", "functions": "held-out-functions"}


class HierarchyTrainer:
    """The ``hierarchy`` trainer (see the module docstring)."""

    name: ClassVar[str] = "hierarchy"
    metrics: ClassVar[tuple[str, ...]] = (
        *(
            f"{prefix}_{metric}"
            for prefix in SETS
            for metric in (
                "objective",
                "greedy_objective",
                "oracle_objective",
                "vs_greedy",
                "oracle_gain",
                "baselines_not_beaten",
            )
        ),
        "margin",
        "forecast_r2",
    )
    Config: ClassVar[type[TrainerConfig]] = HierarchyTrainerConfig

    def scaled(self, config: TrainerConfig, scale: Scale) -> TrainerConfig:
        """``tiny``: a 60-function synthetic day, 3,000 samples, 2 epochs, 1 LSTM epoch."""
        if scale == "full":
            return config
        current = config.model_dump()
        budgets = {k: min(current[k], v) if isinstance(v, int) else v for k, v in TINY.items()}
        return rebuilt(config, **budgets)

    def train(self, config: TrainerConfig, context: RunContext) -> RunResult:
        from skyroute.bundles import pack_bundle
        from skyroute.learn.pipeline import evaluate_hierarchy, train_hierarchy

        learn_config: HierarchyConfig = to_dataclass(config, HierarchyConfig, seed=context.seed)
        bundles, evaluation = context.run_dir / "bundles", context.run_dir / "evaluation"
        bundles.mkdir()
        evaluation.mkdir()

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "load LSTM":
                context.log_metrics({"forecast_epoch": float(done)}, done - 1)

        training = train_hierarchy(learn_config, bundles, progress)
        summary = evaluate_hierarchy(learn_config.trace, bundles, evaluation, context.seed)
        artifacts = [
            pack_bundle(bundles / layer, context.run_dir / f"{layer}.zip")
            for layer in ("tactical", "forecast")
        ]
        artifacts += _copy_reports(context.run_dir, bundles, evaluation)
        return RunResult(
            metrics=finite_metrics("hierarchy", hierarchy_metrics(training, summary)),
            artifacts=artifacts,
            bundle_dir=bundles / "strategic",
        )


def _copy_reports(run_dir: Path, bundles: Path, evaluation: Path) -> list[Path]:
    """training.json, evaluation.json and each set's report.md, metrics.json and plots, under
    names unique within the run."""
    out = [
        Path(shutil.copyfile(bundles / "training.json", run_dir / "training.json")),
        Path(shutil.copyfile(evaluation / "evaluation.json", run_dir / "evaluation.json")),
    ]
    for prefix, folder in SETS.items():
        for source in sorted((evaluation / folder).iterdir()):
            if source.suffix in (".md", ".json", ".png"):
                out.append(Path(shutil.copyfile(source, run_dir / f"{prefix}_{source.name}")))
    return out


def hierarchy_metrics(training: dict[str, Any], summary: dict[str, Any]) -> dict[str, float]:
    """The run's metrics from ``train_hierarchy``'s and ``evaluate_hierarchy``'s summaries."""
    out: dict[str, float] = {}
    for prefix, folder in SETS.items():
        part = summary[folder]
        objective = part["objective"]
        out |= {
            f"{prefix}_objective": objective["hierarchical"],
            f"{prefix}_greedy_objective": objective["greedy"],
            f"{prefix}_oracle_objective": objective["oracle"],
            f"{prefix}_vs_greedy": objective["hierarchical"] - objective["greedy"],
            f"{prefix}_oracle_gain": part["oracle_gain_captured"],
            f"{prefix}_baselines_not_beaten": float(len(part["baselines_not_beaten"])),
        }
    r2 = training["forecast"]["held_out_hours"]["lstm"]["r2"]
    out["margin"] = training["margin"]
    out["forecast_r2"] = sum(r2) / len(r2)
    return out


TRAINER: Trainer = HierarchyTrainer()  # the type checker holds it to the protocol
