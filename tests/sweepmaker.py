"""Sweep outcomes built by hand: the input of the report, promotion and notification tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyroute.experiments.outcomes import PhaseOutcome, RunOutcome, SweepOutcome

RULE = "max accuracy where class_1_accuracy >= 0.30"
CONSTRAINTS = [("class_1_accuracy", ">=", 0.30)]
BASE: dict[str, Any] = {"sigma": 0.10, "hidden": 64, "heads": 4, "pretrain_epochs": 0}


def run(
    phase: str, index: int, params: dict[str, Any], accuracy: float, class_1: float, **kw: Any
) -> RunOutcome:
    """A finished run with accuracy, class-1 accuracy and a falling loss curve."""
    curves = {
        "loss": [1.0 / (epoch + 1) + 0.01 * index for epoch in range(6)],
        "accuracy": [accuracy * (epoch + 1) / 6 for epoch in range(6)],
    }
    return RunOutcome(
        name=f"lstm-burst-{phase}-{index:02d}", phase=phase, params={**BASE, **params},
        status="finished", metrics={"accuracy": accuracy, "class_1_accuracy": class_1},
        curves=curves, seconds=1.5, **kw,
    )  # fmt: skip


def phase(name: str, varied: list[str], runs: list[RunOutcome], winner: RunOutcome) -> PhaseOutcome:
    return PhaseOutcome(
        name=name, rule=RULE, objective="accuracy", goal="max", constraints=CONSTRAINTS,
        varied=varied, runs=runs, winner=winner,
    )  # fmt: skip


def sample_outcome(
    champion_run_id: str | None = None, bundle_dir: Path | None = None
) -> SweepOutcome:
    """Three phases like the seed's study: one failed run, one run that misses the rule
    (the most accurate of phase 1, so the winner is not simply the best accuracy)."""
    p1 = [
        run("augment", 1, {"sigma": 0.10}, 0.71, 0.34),
        run("augment", 2, {"sigma": 0.12}, 0.78, 0.41),
        run("augment", 3, {"sigma": 0.15}, 0.83, 0.22),  # best accuracy, misses class 1
        RunOutcome(
            name="lstm-burst-augment-04",
            phase="augment",
            params={**BASE, "sigma": 0.20},
            status="failed",
            reason="loss became NaN at epoch 3 | check the learning rate",
        ),
    ]
    p2 = [
        run("model", i, {"sigma": 0.12, "hidden": h, "heads": n}, acc, c1)
        for i, (h, n, acc, c1) in enumerate(
            [(64, 4, 0.79, 0.40), (64, 8, 0.80, 0.36), (128, 4, 0.82, 0.38), (128, 8, 0.84, 0.29)],
            start=1,
        )
    ]
    p3 = [
        run("pretrain", 1, {"sigma": 0.12, "hidden": 128, "heads": 4, "pretrain_epochs": 50},
            0.83, 0.39),
        run("pretrain", 2, {"sigma": 0.12, "hidden": 128, "heads": 4, "pretrain_epochs": 75},
            0.86, 0.42, run_id=champion_run_id, bundle_dir=bundle_dir),
        run("pretrain", 3, {"sigma": 0.12, "hidden": 128, "heads": 4, "pretrain_epochs": 100},
            0.85, 0.31),
    ]  # fmt: skip
    return SweepOutcome(
        sweep="lstm-burst-study", trainer="lstm-burst", scale="tiny",
        phases=[
            phase("augment", ["sigma"], p1, p1[1]),
            phase("model", ["hidden", "heads"], p2, p2[2]),
            phase("pretrain", ["pretrain_epochs"], p3, p3[1]),
        ],
        executed=11, skipped=0,
    )  # fmt: skip
