"""``lstm-burst``: the seed study's LSTM burst classifier over load windows cut from a trace.

Class 1 is "a burst ahead" (:mod:`burst_data`: the next ``horizon`` minutes' peak exceeds
``burst_factor`` x the window's mean and reaches ``min_burst_calls``). The model is an LSTM,
multi-head self-attention and a linear head (:mod:`burst_model`), trained with time-warp
augmentation (:mod:`augment`), optional masked-minute pre-training and class weighting
(:mod:`burst_fit`), exported as a ``classifier.burst`` bundle (:mod:`burst_export`).

Metrics, all on the validation windows (the trace's last hours): ``accuracy``,
``class_1_accuracy`` (recall of bursts), ``class_0_accuracy``, ``precision``, ``f1``,
``roc_auc``, ``val_loss``, with ``train_loss`` and the validation ``burst_share``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from skyroute.errors import ConfigError
from skyroute.experiments.trainer import RunContext, RunResult, Scale, Trainer, TrainerConfig
from skyroute.experiments.trainers.base import StrictConfig, rebuilt

#: What ``scale="tiny"`` trains on: the shipped Azure sample (real bursts; a synthetic trace's
#: Poisson noise makes every configuration learn the same level rule), on few windows.
TINY_TRACE = "default"
TINY = {"max_windows": 1000, "max_val_windows": 2000, "epochs": 5}
#: Tiny pre-training: the full epochs divided by this (50/75/100 -> 2/3/4).
TINY_PRETRAIN_DIVISOR = 25


class BurstConfig(StrictConfig):
    """The typed parameters of an ``lstm-burst`` run; the defaults make a sensible full run."""

    trainer_name: ClassVar[str] = "lstm-burst"

    trace: str = "default"
    #: Minutes of calls the model reads.
    window: int = Field(30, ge=2)
    #: Minutes ahead a burst is looked for.
    horizon: int = Field(10, ge=1)
    burst_factor: float = Field(3.0, gt=1.0)
    min_burst_calls: int = Field(5, ge=1)
    #: Training windows (drawn with ``burst_share`` of bursts; None: as they come).
    max_windows: int = Field(20_000, ge=10)
    max_val_windows: int = Field(20_000, ge=10)
    burst_share: float | None = Field(0.3, gt=0.0, lt=1.0)
    hidden: int = Field(64, ge=1)
    heads: int = Field(4, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    time_warp_sigma: float = Field(0.1, ge=0.0)
    #: Masked-minute pre-training epochs before fine-tuning (0: none).
    pretrain_epochs: int = Field(0, ge=0)
    mask_share: float = Field(0.15, gt=0.0, lt=1.0)
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    #: How much more a burst's loss weighs (burst_fit.positive_weight).
    class_weighting: Literal["balanced", "sqrt", "none"] = "none"
    #: A burst is predicted where P(burst) >= this.
    threshold: float = Field(0.5, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> BurstConfig:
        if self.hidden % self.heads:
            divisors = [h for h in (1, 2, 4, 8, 16) if self.hidden % h == 0]
            raise ConfigError(
                f"hidden={self.hidden} is not divisible by heads={self.heads}: each attention "
                "head takes an equal share of the LSTM's outputs",
                f"use heads in {divisors} or a hidden size that is a multiple of {self.heads}",
            )
        return self


class LstmBurstTrainer:
    """The ``lstm-burst`` trainer (see the module docstring)."""

    name: ClassVar[str] = "lstm-burst"
    metrics: ClassVar[tuple[str, ...]] = (
        "accuracy", "class_1_accuracy", "class_0_accuracy", "precision", "f1", "roc_auc",
        "val_loss", "train_loss", "burst_share",
    )  # fmt: skip
    Config: ClassVar[type[TrainerConfig]] = BurstConfig

    def scaled(self, config: TrainerConfig, scale: Scale) -> TrainerConfig:
        """``tiny``: at most 1,000 training and 2,000 validation windows, 5 epochs, and
        pre-training epochs divided by 25, rounded up (50/75/100 -> 2/3/4): one run in 3-11 s
        of CPU on one core (docs/experiments-trainers.md)."""
        config = _burst(config)
        if scale == "full":
            return config
        return rebuilt(
            config,
            trace=TINY_TRACE,
            **{key: min(getattr(config, key), value) for key, value in TINY.items()},
            pretrain_epochs=math.ceil(config.pretrain_epochs / TINY_PRETRAIN_DIVISOR),
        )

    def train(self, config: TrainerConfig, context: RunContext) -> RunResult:
        from skyroute.experiments.trainers.burst_run import run_burst

        return run_burst(_burst(config), context)


def _burst(config: TrainerConfig) -> BurstConfig:
    if not isinstance(config, BurstConfig):
        raise ConfigError(
            f"lstm-burst was given a {type(config).__name__}",
            "build it with skyroute.experiments.trainer.build_config",
        )
    return config


TRAINER: Trainer = LstmBurstTrainer()  # the type checker holds it to the protocol
