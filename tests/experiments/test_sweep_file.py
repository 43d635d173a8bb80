"""Sweep files: what loads, and one line with file, line and fix for every mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyroute.experiments.rules import Constraint, Rule, choose
from skyroute.experiments.sweep import SweepFileError, load_sweep

GOOD = """\
name: study
trainer: fake_trainer:TRAINER
base: {y: 2}
phases:
  - name: first
    grid: {x: [0.1, 0.2], y: [1, 2]}
    select: {maximize: score, where: ["aux <= 0.6", "loss < 1"]}
  - name: second
    runs: [{y: 3}, {y: 4, epochs: 5}]
    select: {minimize: loss}
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return load_sweep(path)


def test_a_good_file_expands_grids_in_order(tmp_path: Path) -> None:
    sweep = load(tmp_path, GOOD)
    first, second = sweep.phases  # type: ignore[attr-defined]
    assert [p for p in first.points] == [
        {"x": 0.1, "y": 1}, {"x": 0.1, "y": 2}, {"x": 0.2, "y": 1}, {"x": 0.2, "y": 2},
    ]  # fmt: skip
    assert str(first.rule) == "max score where aux <= 0.6 and loss < 1"
    assert second.varied == ("y", "epochs") and str(second.rule) == "min loss"
    assert sweep.run_count == 6  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("phases:", "phases:\n  - name: [broken"), 6, "not valid YAML"),
        (("base: {y: 2}", "base: {y: 2}\nbsae: 1"), 4, "unknown key 'bsae'"),
        (("    select: {minimize: loss}", "    select: {minimize: loss}\n    grdi: {}"), 11,
         "did you mean 'grid'"),
        (("trainer: fake_trainer:TRAINER", "trainer: lstm-brust"), 2, "did you mean 'lstm-burst'"),
        (("grid: {x: [0.1, 0.2], y: [1, 2]}", "grid: {xx: [0.1], y: [1, 2]}"), 6,
         "unknown parameter 'xx' (to fix: did you mean 'x'"),
        (('"aux <= 0.6"', '"acc <= 0.6"'), 7, "unknown metric of fake 'acc'"),
        (('"loss < 1"', '"loss about 1"'), 7, "cannot read the constraint"),
        (("{y: 4, epochs: 5}", "{y: 4, epochs: many}"), 9, "run 2 of phase 'second': epochs"),
        (("    select: {minimize: loss}", "    select: {minimize: loss, maximize: score}"), 10,
         "exactly one of maximize or minimize"),
        (("name: second", "name: first"), 8, "two phases are called 'first'"),
    ],
)  # fmt: skip
def test_every_mistake_names_file_line_and_fix(
    tmp_path: Path, change: tuple[str, str], line: int, words: str
) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(SweepFileError) as error:
        load(tmp_path, GOOD.replace(old, new, 1))
    text = str(error.value)
    assert text.startswith(f"{tmp_path / 's.yaml'}:{line}: "), text
    assert words in text and "to fix:" in text
    assert "\n" not in text


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SweepFileError, match="cannot read the file"):
        load_sweep(tmp_path / "nope.yaml")


metric_maps = st.lists(
    st.one_of(st.none(), st.fixed_dictionaries({"a": st.floats(-5, 5), "b": st.floats(-5, 5)})),
    min_size=1, max_size=12,
)  # fmt: skip


@given(metric_maps, st.floats(-5, 5), st.sampled_from(["max", "min"]))
def test_the_winner_meets_the_rule_and_beats_every_eligible_run(
    runs: list[dict[str, float] | None], bound: float, goal: str
) -> None:
    rule = Rule("a", goal, (Constraint("b", ">=", bound),))  # type: ignore[arg-type]
    names = [f"r{i}" for i in range(len(runs))]
    choice = choose(rule, names, runs)
    eligible = [i for i, m in enumerate(runs) if m is not None and m["b"] >= bound]
    if not eligible:
        assert choice.winner is None and choice.problem
        finished = [i for i, m in enumerate(runs) if m is not None]
        assert ("closest" in choice.problem) == bool(finished)
        return
    assert choice.winner in eligible
    best = runs[choice.winner]["a"]  # type: ignore[index]
    values = [runs[i]["a"] for i in eligible]  # type: ignore[index]
    assert best == (max(values) if goal == "max" else min(values))
    assert choice.winner == min(i for i in eligible if runs[i]["a"] == best)  # type: ignore[index]
