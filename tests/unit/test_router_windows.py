"""The router's window labelling and featurisation, its configuration, and its explainer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.errors import ConfigError
from skyroute.learn.config import RouterConfig, parse_families
from skyroute.learn.dataset import FEATURES
from skyroute.learn.router import FamilyResult, train_families
from skyroute.learn.windows import NO_CALL_GAP_S, History, windows_of
from skyroute.serve.routes.route import confidence, decision_threshold

WIDTH = 900.0
FAMILIES = ("xgboost", "lightgbm", "random_forest", "mlp")


@st.composite
def calls(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A time-sorted trace: function codes and start times over a few hours."""
    n = draw(st.integers(1, 60))
    function = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    times = draw(st.lists(st.floats(0.0, 6 * 3600.0, allow_nan=False), min_size=n, max_size=n))
    order = np.argsort(times, kind="stable")
    return np.asarray(function, dtype=np.int64)[order], np.asarray(times)[order]


@settings(max_examples=150, deadline=None)
@given(calls())
def test_every_call_belongs_to_exactly_its_functions_window(trace: tuple) -> None:
    function, t = trace
    windows = windows_of(function, t, WIDTH)
    row = windows.row_of_call
    assert (windows.function[row] == function).all()
    assert (windows.start_s[row] <= t).all() and (t < windows.start_s[row] + WIDTH).all()
    assert windows.n_calls.sum() == len(t)
    assert (np.bincount(row, minlength=len(windows)) == windows.n_calls).all()
    # The first call is the window's earliest, and it is one of the window's own calls.
    assert (row[windows.first_call] == np.arange(len(windows))).all()
    earliest = np.full(len(windows), np.inf)
    np.minimum.at(earliest, row, t)
    assert (t[windows.first_call] == earliest).all()


@settings(max_examples=150, deadline=None)
@given(calls(), st.sampled_from([60.0, 900.0, 3600.0]))
def test_history_sees_only_calls_strictly_before_the_window(trace: tuple, span: float) -> None:
    function, t = trace
    windows = windows_of(function, t, WIDTH)
    history = History.of(function, t, span)
    counted = history.calls_before(windows.function, windows.start_s, span)
    gap = history.gap_before(windows.function, windows.start_s)
    previous = history.previous_call(windows.function, windows.start_s)
    for k in range(len(windows)):
        f, start = windows.function[k], windows.start_s[k]
        earlier = (function == f) & (t < start)
        assert counted[k] == np.sum(earlier & (t >= start - span))
        if earlier.any():
            latest = t[earlier].max()
            assert gap[k] == pytest.approx(min(start - latest, NO_CALL_GAP_S))
            assert function[previous[k]] == f and t[previous[k]] == latest
        else:
            assert gap[k] == NO_CALL_GAP_S and previous[k] == -1


def test_families_are_checked_with_a_suggestion() -> None:
    assert parse_families(" xgboost,lightgbm , xgboost") == ("xgboost", "lightgbm")
    with pytest.raises(ConfigError, match="unknown router family 'xgbost'") as caught:
        parse_families("xgbost")
    assert "did you mean 'xgboost'" in caught.value.fix
    with pytest.raises(ConfigError, match="no router family"):
        parse_families(" , ")


@pytest.mark.parametrize("max_rows", [0, -5])
def test_max_rows_must_be_positive(max_rows: int) -> None:
    with pytest.raises(ConfigError, match=f"max_rows={max_rows} is impossible"):
        RouterConfig(max_rows=max_rows)


def test_windows_shorter_than_a_minute_are_refused() -> None:
    with pytest.raises(ConfigError, match="too short"):
        RouterConfig(window_min=0.5)


@pytest.fixture(scope="module")
def tiny_families() -> dict[str, FamilyResult]:
    """Every family trained on a tiny synthetic set whose label depends mostly on feature 0."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES))).astype(np.float32)
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame["label_container"] = (2 * x[:, 0] + x[:, 1] + rng.normal(0, 0.5, 400) > 0).astype(int)
    results = train_families(FAMILIES, frame.iloc[:300], frame.iloc[300:], seed=0)
    return {r.name: r for r in results}


def _output(result: FamilyResult, x: np.ndarray) -> np.ndarray:
    """What a family's SHAP values add up to: booster margin, forest P, MLP log-odds."""
    if result.name == "xgboost":
        return result.model.predict(x, output_margin=True)
    if result.name == "lightgbm":
        return result.model.predict(x, raw_score=True)
    p = result.model.predict_proba(x)[:, 1]
    return p if result.name == "random_forest" else np.log(p / (1 - p))


@pytest.mark.parametrize("family", FAMILIES)
def test_shap_values_of_every_family_add_up_to_its_output(
    family: str, tiny_families: dict[str, FamilyResult]
) -> None:
    from skyroute.learn.router_explain import explain

    x = np.random.default_rng(1).normal(size=(100, len(FEATURES))).astype(np.float32)
    explanation = explain(tiny_families[family], x, seed=3)
    assert explanation.values.shape == explanation.x.shape == (100, len(FEATURES))
    assert {tuple(row) for row in explanation.x} == {tuple(row) for row in x}
    assert explanation.units == ("probability" if family == "random_forest" else "log-odds")
    total = explanation.values.sum(axis=1) + explanation.expected
    assert total == pytest.approx(_output(tiny_families[family], explanation.x), abs=1e-4)
    assert np.abs(explanation.values).mean(axis=0).argmax() == 0


def test_the_server_applies_the_bundles_threshold() -> None:
    assert decision_threshold({"params": {"threshold": 0.9}}) == 0.9
    assert decision_threshold({"params": {}}) == 0.5
    assert decision_threshold({}) == 0.5
    for bad in (0, 1.5, "high", True):
        assert decision_threshold({"params": {"threshold": bad}}) is None
    assert confidence(0.5, 0.5) == 0.0
    assert confidence(1.0, 0.9) == pytest.approx(1.0)
    assert confidence(0.45, 0.9) == pytest.approx(0.5)
    assert confidence(1.0, 1.0) == 1.0


def test_a_call_a_hair_before_the_moment_counts_as_before() -> None:
    """Found by Hypothesis: a float key (function x stride + time) rounded such a call onto
    the moment itself, so it was not counted as before it."""
    t0 = 21600.0
    just_before = np.nextafter(t0, 0.0)
    function = np.array([0, 1, 1])
    t = np.array([0.0, just_before, t0])
    history = History.of(function, t, 60.0)
    assert history.calls_before(np.array([1]), np.array([t0]), 60.0).tolist() == [1]
    assert history.previous_call(np.array([1]), np.array([t0])).tolist() == [1]
