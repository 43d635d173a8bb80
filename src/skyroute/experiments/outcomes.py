"""What a sweep produced: each run's outcome and each phase's winner (the report's and the
promotion's input; built from the tracking store, so a resumed sweep has the same result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["finished", "failed"]


@dataclass(frozen=True)
class RunOutcome:
    """One run, finished or failed."""

    name: str  # deterministic: trainer, config and seed (runs.run_name)
    phase: str
    params: dict[str, Any]  # the full config the run trained with
    status: RunStatus
    metrics: dict[str, float] = field(default_factory=dict)
    #: Per-epoch curves: metric -> values by step.
    curves: dict[str, list[float]] = field(default_factory=dict)
    reason: str | None = None  # why it failed
    run_id: str | None = None  # the MLflow run id
    #: Local copies of the run's artifacts (plots) and bundle folder, when it has them.
    artifacts: list[Path] = field(default_factory=list)
    bundle_dir: Path | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class PhaseOutcome:
    """One phase: its runs, its rule and the run the rule chose."""

    name: str
    #: The phase's rule as written, e.g. "max accuracy where class_1_accuracy >= 0.30".
    rule: str
    objective: str  # the metric the rule maximises or minimises
    goal: Literal["max", "min"]
    #: Constraints as (metric, operator, value), e.g. ("class_1_accuracy", ">=", 0.30).
    constraints: list[tuple[str, str, float]]
    #: The parameters this phase varied (its grid's keys).
    varied: list[str]
    runs: list[RunOutcome]
    winner: RunOutcome | None
    #: When no run met the rule: what went wrong, naming the closest run.
    problem: str | None = None


@dataclass(frozen=True)
class SweepOutcome:
    """A whole sweep: its phases in order; the champion is the last phase's winner."""

    sweep: str  # the sweep's name
    trainer: str
    scale: str
    phases: list[PhaseOutcome]
    executed: int  # runs executed by this invocation (0 when everything was finished)
    skipped: int  # finished runs found in the tracking store and reused

    @property
    def champion(self) -> RunOutcome | None:
        return self.phases[-1].winner if self.phases else None
