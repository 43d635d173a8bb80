"""The typed configurations of ``skyroute train hierarchy`` and ``train router``, validated and
logged into bundles."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from skyroute.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class HierarchyConfig:
    trace: str = "default"
    seed: int = 0
    #: Calls sampled from the training split; every candidate's realised outcome is computed
    #: for each (the full-information data both layers are fitted on).
    samples: int = 120_000
    #: Fitting both layers' networks on that data.
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 1e-3
    hidden: tuple[int, ...] = (128, 128)
    #: This share of the training functions is not fitted on: it chooses, among ``margins``,
    #: the predicted gain a layer needs before it leaves greedy's choice.
    validation_share: float = 0.2
    margins: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3)
    #: Optional on-line fine-tuning after the fit, in environment steps (0: none; see
    #: docs/learn.md for why the default is none).
    dqn_steps: int = 0
    ppo_steps: int = 0
    episode_length: int = 256
    dqn_learning_rate: float = 5e-4
    ppo_learning_rate: float = 3e-4
    #: Discount of both agents. 0: a placement does not change later requests' rewards (the
    #: environments are contextual bandits), so future rewards would only add variance.
    gamma: float = 0.0
    #: LSTM forecaster: 2 layers, 12-step windows, asymmetric loss.
    lstm_hidden: int = 32
    lstm_epochs: int = 15
    lstm_learning_rate: float = 3e-3
    window: int = 12
    under_weight: float = 3.0
    #: Share of the trace's hours (the last ones) held out for evaluation.
    holdout_hours: float = 0.25

    def __post_init__(self) -> None:
        positive = {
            "samples": self.samples,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "episode_length": self.episode_length,
            "dqn_learning_rate": self.dqn_learning_rate,
            "ppo_learning_rate": self.ppo_learning_rate,
            "lstm_hidden": self.lstm_hidden,
            "lstm_epochs": self.lstm_epochs,
            "lstm_learning_rate": self.lstm_learning_rate,
            "window": self.window,
            "under_weight": self.under_weight,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name}={value} is impossible", f"{name} must be positive")
        for name, steps in (("dqn_steps", self.dqn_steps), ("ppo_steps", self.ppo_steps)):
            if steps < 0:
                raise ConfigError(f"{name}={steps} is impossible", f"{name} must be 0 or more")
        if not 0.0 < self.validation_share < 1.0:
            raise ConfigError(
                f"validation_share={self.validation_share} is not a share", "use e.g. 0.15"
            )
        if not self.margins or min(self.margins) < 0.0:
            raise ConfigError(f"margins={self.margins} is impossible", "use e.g. (0.0, 0.01)")
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"hidden={self.hidden} is not a network", "use e.g. (128, 128)")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma={self.gamma} is not a discount", "use a value in [0, 1]")
        if not 0.0 < self.holdout_hours < 1.0:
            raise ConfigError(f"holdout_hours={self.holdout_hours} is not a share", "use e.g. 0.25")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The router's model families, in training order (``skyroute.learn.router``).
ROUTER_FAMILIES = ("random_forest", "xgboost", "lightgbm", "mlp")


def parse_families(text: str) -> tuple[str, ...]:
    """``"xgboost, lightgbm"`` -> the families in that order; unknown names are refused."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ConfigError("no router family given", f"name one or more of {ROUTER_FAMILIES}")
    for name in names:
        if name not in ROUTER_FAMILIES:
            unknown = UnknownNameError("router family", name, ROUTER_FAMILIES)
            raise ConfigError(unknown.message, unknown.fix)
    return names


def check_max_rows(max_rows: int) -> int:
    if max_rows <= 0:
        raise ConfigError(f"max_rows={max_rows} is impossible", "use a positive number of rows")
    return max_rows


def window_seconds(window_min: float) -> float:
    """A routing window's width in seconds; a window must span at least a minute."""
    if not window_min >= 1.0:
        raise ConfigError(f"a window of {window_min} minutes is too short", "use e.g. 15 or 60")
    return float(window_min) * 60.0


@dataclass(frozen=True)
class RouterConfig:
    """The typed configuration of ``skyroute train router``, logged into the bundle."""

    trace: str = "default"
    seed: int = 0
    #: Minutes per routing window: one decision per function and window.
    window_min: float = 15.0
    families: tuple[str, ...] = ROUTER_FAMILIES
    #: At most this many window rows, from a seeded subsample of whole functions (None: all).
    max_rows: int | None = None
    #: Share of the trace's hours (the last ones) held out for evaluation.
    holdout_hours: float = 0.25

    def __post_init__(self) -> None:
        parse_families(",".join(self.families))
        if self.max_rows is not None:
            check_max_rows(self.max_rows)
        window_seconds(self.window_min)
        if not 0.0 < self.holdout_hours < 1.0:
            raise ConfigError(f"holdout_hours={self.holdout_hours} is not a share", "use e.g. 0.25")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "families": list(self.families)}
