"""The sweep report: every run listed, winners marked, failed runs with their reason, real PNGs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PIL import Image

from skyroute.experiments.report import misses, write_report
from sweepmaker import CONSTRAINTS, sample_outcome


def test_report_lists_every_run_and_marks_winners(tmp_path: Path) -> None:
    outcome = sample_outcome()
    report = write_report(outcome, tmp_path / "report")
    text = report.read_text()
    assert report.name == "report.md"
    for phase in outcome.phases:
        assert phase.rule in text
        assert phase.winner is not None
        assert f"| **{phase.winner.name}** |" in text
        for run in phase.runs:
            assert run.name in text
    # The failed run keeps its reason (its pipe escaped, so the table stays a table).
    assert "failed: loss became NaN at epoch 3 \\| check the learning rate" in text
    # The most accurate run of phase 1 misses the constraint and says so.
    assert (
        "| lstm-burst-augment-03 | 0.15 | 0.8300 | 0.2200 | misses class_1_accuracy >= 0.3 |"
        in text
    )
    assert "**Champion**: `lstm-burst-pretrain-02`" in text
    assert text.count("**winner**") == 3


def test_report_pngs_are_images_and_output_is_deterministic(tmp_path: Path) -> None:
    outcome = sample_outcome()
    first = write_report(outcome, tmp_path / "a").parent
    second = write_report(outcome, tmp_path / "b").parent
    pngs = sorted(p.name for p in first.glob("*.png"))
    assert pngs == [
        "champion_curves.png", "phase_1_augment.png", "phase_2_model.png", "phase_3_pretrain.png",
    ]  # fmt: skip
    for name in pngs:
        with Image.open(first / name) as image:
            image.verify()
        with Image.open(first / name) as image:
            assert image.format == "PNG" and image.width > 400 and image.height > 200
        assert f"]({name})" in (first / "report.md").read_text()
    for name in [*pngs, "report.md"]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_phase_without_winner_says_why_and_no_champion(tmp_path: Path) -> None:
    outcome = sample_outcome()
    last = dataclasses.replace(
        outcome.phases[-1], winner=None,
        problem="no run meets class_1_accuracy >= 0.5; closest: lstm-burst-pretrain-02 (0.42)",
    )  # fmt: skip
    outcome = dataclasses.replace(outcome, phases=[*outcome.phases[:-1], last])
    text = write_report(outcome, tmp_path).read_text()
    assert "**No winner**: no run meets class_1_accuracy >= 0.5; closest" in text
    assert "**No champion**" in text
    assert not (tmp_path / "champion_curves.png").exists()


def test_misses_names_the_unmet_constraints() -> None:
    run = sample_outcome().phases[0].runs[2]
    assert misses(run, CONSTRAINTS) == ["class_1_accuracy >= 0.3"]
    assert misses(run, [("class_1_accuracy", "<", 0.3)]) == []
    assert misses(run, [("f1", ">=", 0.1)]) == ["f1 >= 0.1"]  # a metric it never recorded


def test_a_phase_without_constraints_is_drawn_as_bars_and_an_all_failed_phase_has_no_plot(
    tmp_path: Path,
) -> None:
    outcome = sample_outcome()
    augment, model, pretrain = outcome.phases
    free = dataclasses.replace(model, rule="max accuracy", constraints=[])
    dead = [
        dataclasses.replace(r, status="failed", metrics={}, reason="out of memory")
        for r in augment.runs
    ]
    broken = dataclasses.replace(augment, runs=dead, winner=None, problem="every run failed")
    outcome = dataclasses.replace(outcome, phases=[broken, free, pretrain])
    text = write_report(outcome, tmp_path).read_text()
    assert not (tmp_path / "phase_1_augment.png").exists()
    assert "phase_1_augment.png" not in text
    assert text.count("failed: out of memory") == 4
    with Image.open(tmp_path / "phase_2_model.png") as image:
        assert image.format == "PNG"
    # Without constraints every finished run meets the rule.
    assert "misses" not in text.split("## Phase 2")[1].split("## Phase 3")[0]
