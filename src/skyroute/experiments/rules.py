"""Selection rules: "maximise accuracy where class_1_accuracy >= 0.30".

A rule names an objective metric, a direction and constraints over recorded metrics. The winner
is the best run among those that meet every constraint; when none does, there is no winner and
the caller is told which run came closest and by how much, never handed one silently.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_CONSTRAINT = re.compile(
    r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|>|<)\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*$"
)


class RuleError(ValueError):
    """A constraint that cannot be read."""


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        found = _CONSTRAINT.match(text)
        if not found:
            raise RuleError(
                f"cannot read the constraint {text!r}: write METRIC OP NUMBER with OP one of "
                f"{', '.join(OPERATORS)}, e.g. 'class_1_accuracy >= 0.30'"
            )
        metric, op, value = found.groups()
        return cls(metric, op, float(value))

    def met(self, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(self.metric)
        return value is not None and math.isfinite(value) and OPERATORS[self.op](value, self.value)

    def shortfall(self, metrics: Mapping[str, float]) -> float:
        """How far ``metrics`` miss this constraint (0 when met; inf when the metric is absent)."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return math.inf
        if self.met(metrics):
            return 0.0
        return abs(value - self.value) / max(abs(self.value), 1e-12)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Rule:
    objective: str
    goal: Literal["max", "min"]
    constraints: tuple[Constraint, ...] = ()

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.objective, *(c.metric for c in self.constraints))

    def __str__(self) -> str:
        where = " and ".join(str(c) for c in self.constraints)
        return f"{self.goal} {self.objective}" + (f" where {where}" if where else "")


@dataclass(frozen=True)
class Choice:
    """The rule's verdict over a phase's runs: the winner's index, or why there is none."""

    winner: int | None
    problem: str | None = None


def choose(
    rule: Rule, names: Sequence[str], metrics: Sequence[Mapping[str, float] | None]
) -> Choice:
    """The best run that meets every constraint; ties go to the earlier run.

    ``metrics[i]`` is None for a failed run. With no eligible run, ``problem`` names the run
    that came closest (smallest summed relative shortfall) and what it missed.
    """
    sign = 1.0 if rule.goal == "max" else -1.0
    best: int | None = None
    best_value = 0.0
    for i, found in enumerate(metrics):
        if found is None or not all(c.met(found) for c in rule.constraints):
            continue
        value = found.get(rule.objective)
        if value is None or not math.isfinite(value):
            continue
        if best is None or sign * value > sign * best_value:
            best, best_value = i, value
    if best is not None:
        return Choice(best)
    finished = [i for i, found in enumerate(metrics) if found is not None]
    if not finished:
        return Choice(None, "every run of the phase failed")

    def distance(i: int) -> float:
        found = metrics[i] or {}
        return sum(c.shortfall(found) for c in rule.constraints)

    closest = min(finished, key=distance)
    found = metrics[closest] or {}
    missed = [
        f"{c.metric} = {found[c.metric]:.4g}, needs {c.op} {c.value:g}" if c.metric in found
        else f"{c.metric} not recorded"
        for c in rule.constraints if not c.met(found)
    ]  # fmt: skip
    return Choice(
        None,
        f"no run meets '{rule}'; the closest is {names[closest]} ({'; '.join(missed)})",
    )
