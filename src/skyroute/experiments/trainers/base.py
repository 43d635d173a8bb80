"""What every trainer here shares: a strict config base that names an unknown parameter with
"did you mean", configs derived from the learn package's dataclasses, and the check that a
run's final metrics are finite floats.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import create_model, model_validator

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.experiments.trainer import TrainerConfig

C = TypeVar("C", bound=TrainerConfig)


class StrictConfig(TrainerConfig):
    """A trainer config whose unknown parameters fail as ``UnknownNameError`` naming the
    trainer, the parameter and the closest known ones (pydantic's own "extra inputs are not
    permitted" names neither)."""

    #: The trainer's name, for the message ("unknown lstm-burst parameter 'hiden'").
    trainer_name: ClassVar[str] = "trainer"

    @model_validator(mode="before")
    @classmethod
    def _known_parameters(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in data:
                if key not in cls.model_fields:
                    raise UnknownNameError(
                        f"{cls.trainer_name} parameter", str(key), cls.model_fields
                    )
        return data


class DerivedConfig(StrictConfig):
    """A config whose fields come from a learn dataclass (:func:`config_from_dataclass`);
    validating one also runs the dataclass's own checks."""

    learn_config: ClassVar[type[Any]] = object

    @model_validator(mode="after")
    def _learn_checks(self) -> DerivedConfig:
        to_dataclass(self, type(self).learn_config)  # raises ConfigError on impossible values
        return self


def rebuilt(config: C, **changes: Any) -> C:
    """``config`` with ``changes``, validated again (``model_copy`` would skip validation)."""
    return type(config).model_validate({**config.model_dump(), **changes})


def config_from_dataclass(
    name: str,
    source: type[Any],
    trainer_name: str,
    module: str,
    exclude: tuple[str, ...] = (),
) -> type[DerivedConfig]:
    """A DerivedConfig with ``source``'s fields (types and defaults), less ``exclude``.

    The learn configs stay the one declaration of their parameters; ``source(**fields)`` runs
    their own checks (see :func:`to_dataclass`), so a sweep refuses an impossible value with
    the same message ``skyroute train`` gives. Assign the result to ``name`` in ``module``, so
    that configs pickle (a sweep sends them to other processes).
    """
    hints = typing.get_type_hints(source)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], f.default)
        for f in dataclasses.fields(source)
        if f.name not in exclude
    }
    model: type[DerivedConfig] = create_model(
        name, __base__=DerivedConfig, __doc__=source.__doc__, __module__=module, **fields
    )
    model.trainer_name = trainer_name
    model.learn_config = source
    return model


def to_dataclass(config: TrainerConfig, target: type[Any], **extra: Any) -> Any:
    """The learn dataclass for ``config`` (its own checks raise ConfigError)."""
    return target(**config.model_dump(), **extra)


def finite_metrics(trainer: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` as plain floats; a NaN or infinity is an error naming the metric, since a
    sweep's rule cannot compare it (a trainer never returns one)."""
    out = {key: float(value) for key, value in metrics.items()}
    bad = sorted(key for key, value in out.items() if not math.isfinite(value))
    if bad:
        raise ConfigError(
            f"the {trainer} run produced non-finite metrics: "
            + ", ".join(f"{key}={out[key]}" for key in bad),
            "lower the learning rate, or use more data so every class is present",
        )
    return out
