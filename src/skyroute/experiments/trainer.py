"""The interface every sweepable trainer implements, and the registry that names them.

A trainer turns a typed config (a pydantic model: unknown parameters are refused with "did you
mean") and a :class:`RunContext` into a :class:`RunResult`: final metrics, per-epoch curves,
plots and, when it has one, a SkyRoute bundle. It never talks to MLflow itself: it reports
per-epoch metrics through ``context.log_metrics`` and the run records them, so a trainer is
testable without a tracking store. The same config and seed must give the same metrics
wherever it runs (local process or Ray worker).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from skyroute.errors import UnknownNameError

Scale = Literal["tiny", "full"]
Device = Literal["cpu", "cuda"]


class TrainerConfig(BaseModel):
    """Base of every trainer's config: strict (an unknown parameter is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class RunContext:
    """What a run gives its trainer."""

    #: A fresh, empty folder for this run's files (plots, bundle); kept as MLflow artifacts.
    run_dir: Path
    seed: int
    scale: Scale
    device: Device
    #: ``log_metrics({"loss": 0.3, "accuracy": 0.8}, step=epoch)``: curves, recorded per step.
    log_metrics: Callable[[Mapping[str, float], int], None]


@dataclass(frozen=True)
class RunResult:
    """What a trainer hands back: final metrics (finite floats), plots, an optional bundle."""

    metrics: dict[str, float]
    #: Files under ``run_dir`` to keep (plots, reports); the bundle folder is kept separately.
    artifacts: list[Path] = field(default_factory=list)
    #: A SkyRoute bundle folder under ``run_dir`` (``skyroute bundle verify`` accepts it).
    bundle_dir: Path | None = None


class Trainer(Protocol):
    """A sweepable trainer (see the module docstring)."""

    #: The name sweep files use (``trainer: lstm-burst``).
    name: ClassVar[str]
    #: The metric names ``train`` reports, so a sweep's rules are checked before it runs.
    metrics: ClassVar[tuple[str, ...]]
    #: The typed config (a TrainerConfig subclass); sweep parameters are its fields.
    Config: ClassVar[type[TrainerConfig]]

    def scaled(self, config: TrainerConfig, scale: Scale) -> TrainerConfig:
        """``config`` shrunk for ``tiny`` (small data, few epochs: the whole study in CI)."""
        ...

    def train(self, config: TrainerConfig, context: RunContext) -> RunResult: ...


#: Trainer name -> "module:attribute" of a Trainer instance (imported only when used).
TRAINERS: dict[str, str] = {
    "lstm-burst": "skyroute.experiments.trainers.lstm_burst:TRAINER",
    "router": "skyroute.experiments.trainers.router:TRAINER",
    "hierarchy": "skyroute.experiments.trainers.hierarchy:TRAINER",
}


def get_trainer(name: str) -> Trainer:
    """The trainer called ``name``: a registered name, or ``package.module:ATTRIBUTE`` for
    one's own trainer (importable wherever runs execute). UnknownNameError with "did you
    mean" otherwise."""
    if ":" in name:
        path = name
    elif name in TRAINERS:
        path = TRAINERS[name]
    else:
        raise UnknownNameError("trainer", name, TRAINERS)
    module, _, attribute = path.partition(":")
    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        raise UnknownNameError("trainer", name, TRAINERS) from exc
    if not hasattr(found, attribute):
        raise UnknownNameError("trainer", name, TRAINERS)
    trainer: Trainer = getattr(found, attribute)
    return trainer


def parameters(trainer: Trainer) -> tuple[str, ...]:
    """The parameters a sweep may set for ``trainer``."""
    return tuple(trainer.Config.model_fields)


def build_config(trainer: Trainer, params: Mapping[str, Any]) -> TrainerConfig:
    """``params`` validated into the trainer's config (pydantic's errors on bad values)."""
    return trainer.Config.model_validate(dict(params))
