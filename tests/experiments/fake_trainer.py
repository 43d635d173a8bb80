"""A fast trainer for the sweep engine's tests (``trainer: fake_trainer:TRAINER``).

Its score peaks at x = 0.3 and grows with y; ``aux`` equals x, so a constraint on it is easy
to reason about. It can fail, report NaN, or write a bundle, on request.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from skyroute.experiments.trainer import RunContext, RunResult, Scale, TrainerConfig


class FakeConfig(TrainerConfig):
    x: float = 0.0
    y: int = 1
    epochs: int = 3
    fail: bool = False
    nan: bool = False
    bundle: bool = False


class FakeTrainer:
    name: ClassVar[str] = "fake"
    metrics: ClassVar[tuple[str, ...]] = ("score", "aux", "loss")
    Config: ClassVar[type[TrainerConfig]] = FakeConfig

    def scaled(self, config: TrainerConfig, scale: Scale) -> TrainerConfig:
        return config.model_copy(update={"epochs": 2}) if scale == "tiny" else config

    def train(self, config: TrainerConfig, context: RunContext) -> RunResult:
        assert isinstance(config, FakeConfig)
        if config.fail:
            raise RuntimeError("the fake trainer was told to fail")
        noise = float(np.random.default_rng(context.seed).normal(0, 1e-3))
        score = -((config.x - 0.3) ** 2) + 0.01 * config.y + noise
        for epoch in range(config.epochs):
            context.log_metrics({"loss": 1.0 / (epoch + 1)}, epoch)
        plot = context.run_dir / "curve.txt"
        plot.write_text(f"score {score}\n")
        bundle_dir = None
        if config.bundle:
            from bundlemaker import mlp_bundle

            bundle_dir = mlp_bundle(context.run_dir / "bundle", n_in=50)
        return RunResult(
            {
                "score": math.nan if config.nan else score,
                "aux": config.x,
                "loss": 1.0 / config.epochs,
            },
            [plot],
            bundle_dir,
        )


TRAINER = FakeTrainer()
