"""The sweep file: a trainer, base parameters and phases, validated on load.

```yaml
name: lstm-burst                 # names the MLflow experiment and the output folder
trainer: lstm-burst              # one of skyroute.experiments.trainer.TRAINERS
seed: 0
base: {epochs: 20}               # parameters every run starts from
resources: {cpus: 1, gpus: 0}    # what one run asks of its executor
phases:
  - name: augmentation
    grid: {time_warp_sigma: [0.10, 0.12, 0.15, 0.20]}    # or `runs: [{...}, {...}]`
    select: {maximize: accuracy, where: ["class_1_accuracy >= 0.30"]}
```

A phase's runs are its grid's product (or its list of runs) over the base; the winner's full
parameters are the next phase's base. Every mistake is reported before anything runs, as one
line with the file, the line and what to fix: YAML that does not parse, an unknown key, an
unknown trainer, parameter or metric (with "did you mean"), a value the trainer's config
refuses (every run's config is built at load), a constraint that cannot be read.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skyroute.errors import SkyRouteError, UnknownNameError
from skyroute.experiments.rules import Constraint, Rule, RuleError
from skyroute.experiments.trainer import Trainer, build_config, get_trainer, parameters


class SweepFileError(SkyRouteError):
    """The sweep file is wrong: ``where`` is "FILE:LINE"."""

    code = "invalid_sweep"

    def __init__(self, where: str, message: str, fix: str) -> None:
        super().__init__(f"{where}: {message}", fix)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectIn(_Strict):
    maximize: str | None = None
    minimize: str | None = None
    where: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_goal(self) -> SelectIn:
        if (self.maximize is None) == (self.minimize is None):
            raise ValueError("give exactly one of maximize or minimize")
        return self


class PhaseIn(_Strict):
    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    grid: dict[str, list[Any]] | None = None
    runs: list[dict[str, Any]] | None = None
    select: SelectIn

    @model_validator(mode="after")
    def _grid_or_runs(self) -> PhaseIn:
        if (self.grid is None) == (self.runs is None):
            raise ValueError("give a phase either a grid or a list of runs")
        if self.grid is not None and not all(self.grid.values()):
            raise ValueError("every grid parameter needs at least one value")
        if self.runs is not None and not self.runs:
            raise ValueError("a list of runs needs at least one run")
        return self


class ResourcesIn(_Strict):
    cpus: float = Field(1.0, gt=0, le=256)
    gpus: float = Field(0.0, ge=0, le=16)


class SweepIn(_Strict):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    trainer: str
    seed: int = 0
    base: dict[str, Any] = Field(default_factory=dict)
    resources: ResourcesIn = Field(default_factory=ResourcesIn)
    phases: list[PhaseIn] = Field(min_length=1)


@dataclass(frozen=True)
class Phase:
    name: str
    #: Each run's overrides of the base, in grid order (the grid's product, last key fastest).
    points: tuple[dict[str, Any], ...]
    varied: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True)
class Sweep:
    path: Path
    name: str
    trainer_name: str
    seed: int
    base: dict[str, Any]
    cpus: float
    gpus: float
    phases: tuple[Phase, ...]

    @property
    def trainer(self) -> Trainer:
        return get_trainer(self.trainer_name)

    @property
    def run_count(self) -> int:
        return sum(len(p.points) for p in self.phases)


def load_sweep(path: Path) -> Sweep:
    """Read and validate a sweep file (SweepFileError, one line, on any mistake)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepFileError(
            str(path), f"cannot read the file ({exc.strerror})", "check the path"
        ) from None
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SweepFileError(
            f"{path}{line}", f"not valid YAML ({problem})", "fix the YAML syntax"
        ) from None
    lines = _Lines(path, node)
    if not isinstance(raw, dict):
        raise SweepFileError(
            f"{path}:1", "a sweep file is a mapping", "start with `name:`, `trainer:` and `phases:`"
        )
    try:
        parsed = SweepIn.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        fix = _fix_for(error, loc)
        raise SweepFileError(lines.at(loc), _message(error, loc), fix) from None
    try:
        trainer = get_trainer(parsed.trainer)
    except UnknownNameError as exc:
        raise SweepFileError(lines.at(("trainer",)), exc.message, exc.fix) from None
    return _resolve(parsed, trainer, lines)


def _resolve(parsed: SweepIn, trainer: Trainer, lines: _Lines) -> Sweep:
    known = parameters(trainer)
    _known_keys(parsed.base, known, lines, ("base",), "parameter")
    phases = []
    base = dict(parsed.base)
    for i, phase in enumerate(parsed.phases):
        at = ("phases", i)
        if phase.grid is not None:
            _known_keys(phase.grid, known, lines, (*at, "grid"), "parameter")
            keys = tuple(phase.grid)
            points = tuple(
                dict(zip(keys, values, strict=True))
                for values in itertools.product(*phase.grid.values())
            )
        else:
            assert phase.runs is not None
            for j, run in enumerate(phase.runs):
                _known_keys(run, known, lines, (*at, "runs", j), "parameter")
            keys = tuple(dict.fromkeys(k for run in phase.runs for k in run))
            points = tuple(dict(run) for run in phase.runs)
        rule = _rule(phase.select, trainer, lines, (*at, "select"))
        for j, point in enumerate(points):
            try:
                build_config(trainer, base | point)
            except SkyRouteError as exc:  # the trainer's own checks (e.g. heads vs hidden)
                spot: tuple[Any, ...] = (
                    (*at, "grid") if phase.grid is not None else (*at, "runs", j)
                )
                raise SweepFileError(
                    lines.at(spot), f"run {j + 1} of phase {phase.name!r}: {exc.message}", exc.fix
                ) from None
            except ValidationError as exc:
                error = exc.errors()[0]
                name = str(error["loc"][0]) if error["loc"] else "config"
                place = (*at, "grid", name) if phase.grid is not None else (*at, "runs", j, name)
                raise SweepFileError(
                    lines.at(place), f"run {j + 1} of phase {phase.name!r}: {name}: {error['msg']}",
                    f"give {name} a value the {trainer.name} trainer accepts",
                ) from None  # fmt: skip
        phases.append(Phase(phase.name, points, keys, rule))
    names = [p.name for p in phases]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise SweepFileError(
                lines.at(("phases", i, "name")),
                f"two phases are called {name!r}",
                "give every phase its own name",
            )
    return Sweep(
        lines.path, parsed.name, parsed.trainer, parsed.seed, dict(parsed.base),
        parsed.resources.cpus, parsed.resources.gpus, tuple(phases),
    )  # fmt: skip


def _rule(select: SelectIn, trainer: Trainer, lines: _Lines, at: tuple[Any, ...]) -> Rule:
    goal: Literal["max", "min"] = "max" if select.maximize is not None else "min"
    objective = select.maximize or select.minimize or ""
    key = "maximize" if goal == "max" else "minimize"
    _known_metric(objective, trainer, lines, (*at, key))
    constraints = []
    for j, text in enumerate(select.where):
        try:
            constraint = Constraint.parse(text)
        except RuleError as exc:
            raise SweepFileError(
                lines.at((*at, "where", j)), str(exc), "write e.g. 'class_1_accuracy >= 0.30'"
            ) from None
        _known_metric(constraint.metric, trainer, lines, (*at, "where", j))
        constraints.append(constraint)
    return Rule(objective, goal, tuple(constraints))


def _known_metric(metric: str, trainer: Trainer, lines: _Lines, at: tuple[Any, ...]) -> None:
    if metric not in trainer.metrics:
        error = UnknownNameError(f"metric of {trainer.name}", metric, trainer.metrics)
        raise SweepFileError(lines.at(at), error.message, error.fix)


def _known_keys(
    values: Mapping[str, Any], known: Sequence[str], lines: _Lines, at: tuple[Any, ...], kind: str
) -> None:
    for key in values:
        if key not in known:
            error = UnknownNameError(kind, key, known)
            raise SweepFileError(lines.at((*at, key)), error.message, error.fix)


def _message(error: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    field = ".".join(str(part) for part in loc) or "the file"
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if error["type"] == "missing":
        return f"{field} is missing"
    return f"{field}: {error['msg']}"


def _fix_for(error: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        close = (
            difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1) if model else []
        )
        allowed = ", ".join(model.model_fields) if model else ""
        return f"did you mean {close[0]!r}?" if close else f"use one of: {allowed}"
    if error["type"] == "missing":
        return f"add {loc[-1]}:"
    return "correct the value (see docs/experiments.md)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The sweep-file model a location lies in (for "did you mean" over its keys)."""
    model: type[BaseModel] | None = SweepIn
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        models: dict[str, type[BaseModel]] = {
            "phases": PhaseIn,
            "select": SelectIn,
            "resources": ResourcesIn,
        }
        model = models.get(str(part))
    return model


class _Lines:
    """Line numbers of a YAML document's keys and items, for error messages."""

    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.path, self.node = path, node

    def at(self, loc: tuple[Any, ...]) -> str:
        node, line = self.node, 1
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if k.value == str(part)]
                if not match:
                    break
                line = match[0][0].start_mark.line + 1
                node = match[0][1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return f"{self.path}:{line}"
