"""``router``: the platform router (``skyroute train router``) as a sweepable trainer.

Its parameters are :class:`skyroute.learn.config.RouterConfig`'s fields less ``seed`` (the
run's seed is used), so a sweep and ``skyroute train router`` take the same names and refuse the
same values. A run is :func:`skyroute.learn.router_pipeline.train_router` into the run folder:
its plots and report are the artifacts, its ``router`` bundle folder the bundle.

Metrics (held-out hours): the chosen family's ``accuracy``, ``precision``, ``recall``, ``f1``,
``roc_auc``, ``train_test_gap``, ``max_feature_share``; ``routing_accuracy`` at the calibrated
``threshold``; the simulator's mean ``objective`` under the router, ``function_only_objective``
and ``container_only_objective``, and ``label_container_share``. The router records no epochs.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from skyroute.experiments.trainer import RunContext, RunResult, Scale, Trainer, TrainerConfig
from skyroute.experiments.trainers.base import (
    config_from_dataclass,
    finite_metrics,
    rebuilt,
    to_dataclass,
)
from skyroute.learn.config import RouterConfig

RouterTrainerConfig = config_from_dataclass(
    "RouterTrainerConfig", RouterConfig, "router", __name__, exclude=("seed",)
)
#: ``scale="tiny"`` (tests/learn/test_router_smoke.py's sizes, one family): about 10 s.
TINY: dict[str, Any] = {
    "trace": "synthetic:functions=40,days=1,seed=0",
    "max_rows": 1500,
    "families": ("lightgbm",),
}
ARTIFACTS = ("report.md", "metrics.json", "roc.png", "confusion_matrix.png", "importance.png",
             "shap_summary.png")  # fmt: skip


class RouterTrainer:
    """The ``router`` trainer (see the module docstring)."""

    name: ClassVar[str] = "router"
    metrics: ClassVar[tuple[str, ...]] = (
        "accuracy", "precision", "recall", "f1", "roc_auc", "train_test_gap",
        "max_feature_share", "routing_accuracy", "threshold", "objective",
        "function_only_objective", "container_only_objective", "label_container_share",
    )  # fmt: skip
    Config: ClassVar[type[TrainerConfig]] = RouterTrainerConfig

    def scaled(self, config: TrainerConfig, scale: Scale) -> TrainerConfig:
        """``tiny``: a 40-function synthetic day, at most 1,500 windows, and LightGBM only
        unless the families were set (a sweep over families keeps them)."""
        if scale == "full":
            return config
        rows = config.model_dump()["max_rows"]
        tiny = TINY | {"max_rows": min(rows or TINY["max_rows"], TINY["max_rows"])}
        if "families" in config.model_fields_set:
            del tiny["families"]
        return rebuilt(config, **tiny)

    def train(self, config: TrainerConfig, context: RunContext) -> RunResult:
        from skyroute.learn.router_pipeline import train_router

        learn_config = to_dataclass(config, RouterConfig, seed=context.seed)
        train_router(learn_config, context.run_dir)
        report = json.loads((context.run_dir / "metrics.json").read_text(encoding="utf-8"))
        return RunResult(
            metrics=finite_metrics("router", router_metrics(report)),
            artifacts=[context.run_dir / name for name in ARTIFACTS],
            bundle_dir=context.run_dir / "router",
        )


def router_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The run's metrics from its ``metrics.json`` (router_report.write_report)."""
    chosen = report["families"][report["chosen"]]
    policies = report["simulator"]["policies"]
    return {
        **{key: chosen[key] for key in ("accuracy", "precision", "recall", "f1", "roc_auc")},
        "train_test_gap": chosen["train_test_gap"],
        "max_feature_share": max(report["importance"].values()),
        "routing_accuracy": report["simulator"]["routing_accuracy"],
        "threshold": report["threshold"],
        "objective": policies["router"]["objective"],
        "function_only_objective": policies["function-only"]["objective"],
        "container_only_objective": policies["container-only"]["objective"],
        "label_container_share": report["dataset"]["label_container_share"],
    }


TRAINER: Trainer = RouterTrainer()  # the type checker holds it to the protocol
