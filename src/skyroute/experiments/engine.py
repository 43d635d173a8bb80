"""A sweep's phases, one after the other: each phase's runs (those not finished in the tracking
store) execute in parallel, its rule picks the winner, and the winner's parameters become the
next phase's base. A phase whose rule no run meets stops the sweep with a message naming the
closest run; the phases before it are kept (and reused by the next attempt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from skyroute.errors import SkyRouteError
from skyroute.experiments.executors import Executor, local_jobs, make_executor
from skyroute.experiments.outcomes import PhaseOutcome, RunOutcome, SweepOutcome
from skyroute.experiments.rules import choose
from skyroute.experiments.runs import RunSpec, run_name
from skyroute.experiments.sweep import Phase, Sweep
from skyroute.experiments.tracking import Tracker, default_uri
from skyroute.experiments.trainer import Device, Scale, build_config


class SweepFailed(SkyRouteError):
    """A phase has no winner; ``outcome`` holds everything up to it (for the report)."""

    code = "sweep_failed"

    def __init__(self, message: str, fix: str, outcome: SweepOutcome) -> None:
        super().__init__(message, fix)
        self.outcome = outcome


@dataclass(frozen=True)
class Options:
    scale: Scale = "full"
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    tracking_uri: str | None = None
    device: Device = "cpu"
    jobs: int | None = None  # runs at once (default: cores / resources.cpus)
    out: Path = Path("out/sweeps")
    mlflow_dir: Path = Path("out/mlflow")


class Progress(Protocol):
    """What a sweep reports as it goes (the CLI draws bars from it)."""

    def phase_started(self, phase: str, runs: int, finished: int) -> None: ...

    def run_done(self, outcome: RunOutcome) -> None: ...

    def phase_done(self, outcome: PhaseOutcome) -> None: ...


@dataclass
class _Plan:
    """A phase's runs: specs (what trains) and the unscaled configs they stand for."""

    specs: list[RunSpec] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


def tracker_for(sweep: Sweep, options: Options) -> Tracker:
    uri = options.tracking_uri or default_uri(options.mlflow_dir)
    return Tracker(uri, sweep.name, options.mlflow_dir)


def run_sweep(sweep: Sweep, options: Options, progress: Progress | None = None) -> SweepOutcome:
    """Run what is missing of ``sweep`` and return every phase's outcome (SweepFailed when a
    phase has no winner). Tracking store and executor are checked before anything runs."""
    _check_device(options.device)
    tracker = tracker_for(sweep, options)
    tracker.check()
    jobs = options.jobs or local_jobs(sweep.cpus)
    executor = make_executor(options.executor, options.ray_address, jobs)
    try:
        return _walk(sweep, options, tracker, executor, progress)
    finally:
        executor.close()


def read_sweep(sweep: Sweep, options: Options) -> SweepOutcome:
    """The sweep as the tracking store has it, running nothing (``sweep status``/``report``):
    phases up to the first with a run not finished yet."""
    tracker = tracker_for(sweep, options)
    tracker.check()
    return _walk(sweep, options, tracker, None, None)


def _walk(
    sweep: Sweep, options: Options, tracker: Tracker, executor: Executor | None,
    progress: Progress | None,
) -> SweepOutcome:  # fmt: skip
    base = dict(sweep.base)
    phases: list[PhaseOutcome] = []
    executed = skipped = 0
    for phase in sweep.phases:
        plan = _plan(sweep, phase, base, options)
        folder = options.out / sweep.name / "runs"
        stored = tracker.finished(s.name for s in plan.specs)
        outcomes = {name: tracker.outcome_of(run, folder / name) for name, run in stored.items()}
        skipped += len(outcomes)
        todo = [spec for spec in plan.specs if spec.name not in outcomes]
        if todo and executor is None:
            break  # status/report: this phase has not run (completely) yet
        if progress is not None:
            progress.phase_started(phase.name, len(plan.specs), len(outcomes))
        for spec, payload in executor.run(todo) if executor is not None else ():
            outcome = tracker.record(spec, plan.params[spec.name], payload, folder / spec.name)
            outcomes[spec.name] = outcome
            executed += 1
            if progress is not None:
                progress.run_done(outcome)
        result = _decide(phase, [outcomes[s.name] for s in plan.specs])
        phases.append(result)
        if progress is not None:
            progress.phase_done(result)
        if result.winner is None:
            partial = SweepOutcome(
                sweep.name, sweep.trainer_name, options.scale, phases, executed, skipped
            )
            raise SweepFailed(
                f"phase {phase.name!r}: {result.problem}",
                "relax the phase's `where`, or widen its grid; finished runs are kept",
                partial,
            )
        tracker.mark_winner(result.winner)
        base = dict(result.winner.params)
    return SweepOutcome(sweep.name, sweep.trainer_name, options.scale, phases, executed, skipped)


def _plan(sweep: Sweep, phase: Phase, base: dict[str, Any], options: Options) -> _Plan:
    trainer = sweep.trainer
    plan = _Plan()
    for point in phase.points:
        params = build_config(trainer, base | point).model_dump(mode="json")
        name = run_name(trainer.name, params, sweep.seed, options.scale, phase.name)
        if name in plan.params:
            continue  # the same point twice in a list of runs
        trained = trainer.scaled(build_config(trainer, params), options.scale)
        plan.params[name] = params
        plan.specs.append(
            RunSpec(
                name,
                sweep.name,
                phase.name,
                sweep.trainer_name,
                trained.model_dump(mode="json"),
                sweep.seed,
                options.scale,
                options.device,
                sweep.cpus,
                sweep.gpus,
            )
        )
    return plan


def _decide(phase: Phase, runs: Sequence[RunOutcome]) -> PhaseOutcome:
    rule = phase.rule
    metrics = [r.metrics if r.status == "finished" else None for r in runs]
    choice = choose(rule, [r.name for r in runs], metrics)
    return PhaseOutcome(
        name=phase.name, rule=str(rule), objective=rule.objective, goal=rule.goal,
        constraints=[(c.metric, c.op, c.value) for c in rule.constraints],
        varied=list(phase.varied), runs=list(runs),
        winner=runs[choice.winner] if choice.winner is not None else None, problem=choice.problem,
    )  # fmt: skip


def _check_device(device: Device) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SkyRouteError(
                "--device cuda, but this machine has no CUDA device torch can use",
                "leave out --device (cpu), or run on a machine with a GPU (e.g. a Ray cluster)",
            )
