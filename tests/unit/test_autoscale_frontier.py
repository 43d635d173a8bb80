"""Equal-spend comparison: each predictive run meets the best reactive run that costs no more."""

from __future__ import annotations

import pytest

from skyroute.autoscale.frontier import Run, matches, parse_targets, tally
from skyroute.autoscale.scaling import Score
from skyroute.errors import ConfigError


def run(scaler: str, target: float, violations: int, late: float, minutes: int) -> Run:
    return Run(scaler, target, Score(violations, late, minutes, float(minutes)))


def test_each_predictive_run_meets_the_best_reactive_run_on_no_more_spend() -> None:
    runs = [
        run("reactive", 0.6, 0, 0.0, 1000),
        run("reactive", 0.8, 3, 0.02, 800),
        run("reactive", 0.7, 3, 0.01, 900),
        run("predictive", 0.8, 1, 0.01, 950),  # can afford 0.8 and 0.7: best is 0.7 (fewer late)
        run("predictive", 0.9, 3, 0.03, 850),  # can afford only 0.8
        run("predictive", 1.0, 9, 0.10, 700),  # cheaper than any reactive run
    ]
    found = matches(runs)
    assert [m.reactive.target if m.reactive else None for m in found] == [0.7, 0.8, None]
    assert [m.verdict for m in found] == ["fewer", "tie", "cheaper than any reactive run"]
    assert tally(found) == {"fewer": 1, "tie": 1, "more": 0}
    assert found[0].as_dict()["reactive"]["replica_minutes"] == 900


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0.5:0.7:0.1", [0.5, 0.6, 0.7]), ("0.6, 0.8", [0.6, 0.8]), ("1.0", [1.0])],
)
def test_targets_parse(spec: str, expected: list[float]) -> None:
    assert parse_targets(spec) == expected


@pytest.mark.parametrize("spec", ["", "a:b:c", "0.5:0.9", "0.9:0.5:0.1", "0.5:0.9:0", "0,0.5", "2"])
def test_bad_targets_are_refused_with_the_form_to_use(spec: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_targets(spec)
    assert "--targets" in caught.value.fix
