"""Reactive and predictive scaling: replicas arrive after start-up, leave after the cool-down,
a perfect forecast never does worse than reacting, and the score adds up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skyroute.autoscale.scaling import Service, predictive, reactive, recommend, score

SERVICE = Service(capacity=10.0, target=1.0, startup=2, cooldown=3)


def perfect_forecast(load: np.ndarray) -> np.ndarray:
    padded = np.concatenate([load, np.repeat(load[-1], 12)])
    return np.stack([padded[t : t + 12] for t in range(len(load))])  # minutes t .. t+11


def test_a_step_up_is_served_after_the_metrics_lag_and_the_start_up() -> None:
    load = np.array([10.0] * 5 + [40.0] * 10)
    ready = reactive(load, SERVICE)
    assert list(ready[:6]) == [1] * 6  # the scaler sees minute 5 at minute 6
    assert list(ready[6:8]) == [1, 1] and ready[8] == 4  # asked at 6, ready 2 minutes later
    assert score(load, ready, SERVICE, 0.01).slo_violation_minutes == 3


def test_a_step_down_waits_for_the_cool_down() -> None:
    load = np.array([40.0] * 5 + [10.0] * 8)
    ready = reactive(load, SERVICE)
    assert ready[5] == 4 and ready[6] == 4 and ready[7] == 4  # wanted 1 from minute 6
    assert ready[8] == 1  # lower for 3 minutes (6, 7, 8): removed at once


def test_a_perfect_forecast_has_the_step_ready_in_time() -> None:
    load = np.array([10.0] * 5 + [40.0] * 10)
    ready = predictive(load, perfect_forecast(load), SERVICE)
    assert score(load, ready, SERVICE, 0.01).slo_violation_minutes == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 200), min_size=3, max_size=60))
def test_with_a_perfect_forecast_predictive_never_violates_more(values: list[float]) -> None:
    load = np.asarray(values)
    service = Service(capacity=10.0, target=0.8, startup=1, cooldown=2)
    r = score(load, reactive(load, service), service, 1.0)
    p = score(load, predictive(load, perfect_forecast(load), service), service, 1.0)
    assert p.slo_violation_minutes <= r.slo_violation_minutes
    assert p.cost_usd == p.replica_minutes  # price 1 per replica-minute
    assert 0.0 <= p.late_calls_share <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 500), min_size=2, max_size=40), st.integers(0, 4), st.integers(1, 6))
def test_replicas_stay_within_bounds(values: list[float], startup: int, cooldown: int) -> None:
    service = Service(
        capacity=7.0, startup=startup, cooldown=cooldown, min_replicas=1, max_replicas=50
    )
    ready = reactive(np.asarray(values), service)
    assert ready.min() >= 1 and ready.max() <= 50


def test_predictive_scales_down_at_once_when_the_forecast_stays_low() -> None:
    load = np.array([40.0] * 5 + [10.0] * 8)
    ready = predictive(load, perfect_forecast(load), SERVICE)
    # reactive keeps 4 replicas until minute 8; the forecast (minutes t .. t+2 all 10) lets
    # predictive drop at minute 6, the first minute it sees the lower load
    assert ready[5] == 4 and ready[6] == 1
    assert score(load, ready, SERVICE, 1.0).slo_violation_minutes == 0


def test_predictive_keeps_replicas_a_coming_peak_needs() -> None:
    load = np.array([40.0] * 4 + [10.0] * 2 + [40.0] * 6)
    ready = predictive(load, perfect_forecast(load), SERVICE)
    assert ready.min() == 4  # the dip is shorter than a start-up: nothing is removed
    assert score(load, ready, SERVICE, 1.0).slo_violation_minutes == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 200), min_size=3, max_size=60), st.integers(0, 4))
def test_a_perfect_forecast_never_misses_after_the_first_start_up(
    values: list[float], startup: int
) -> None:
    load = np.asarray(values)
    service = Service(capacity=10.0, target=1.0, startup=startup, cooldown=3)
    ready = predictive(load, perfect_forecast(load), service)
    assert np.all(load[startup:] <= ready[startup:] * service.capacity + 1e-6)


services = st.builds(
    Service,
    capacity=st.floats(0.5, 500),
    target=st.floats(0.05, 1.0),
    startup=st.integers(0, 12),
    cooldown=st.just(1),
    lookahead=st.integers(0, 11),
    min_replicas=st.integers(0, 20),
    max_replicas=st.integers(20, 400),
)


@settings(max_examples=200, deadline=None)
@given(
    services,
    st.floats(0, 1e6),
    st.lists(st.floats(0, 1e6), min_size=12, max_size=12) | st.none(),
)
def test_recommend_stays_within_bounds_and_never_below_reactive(
    service: Service, observed: float, forecast: list[float] | None
) -> None:
    ahead = None if forecast is None else np.asarray(forecast)
    replicas = recommend(observed, ahead, service)
    assert service.min_replicas <= replicas <= service.max_replicas
    assert replicas >= recommend(observed, None, service) == service.wanted(observed)


def test_recommend_provisions_for_every_forecast_minute_until_replicas_are_ready() -> None:
    service = Service(capacity=10.0, target=1.0, startup=3, lookahead=1, max_replicas=50)
    forecast = np.zeros(12)
    forecast[4] = 55.0  # the forecast's minutes 0 .. startup + lookahead count
    assert recommend(10.0, forecast, service) == 6
    forecast[4], forecast[5] = 0.0, 300.0  # past startup + lookahead: not counted
    assert recommend(10.0, forecast, service) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 300), min_size=2, max_size=30))
def test_the_replay_asks_each_minute_for_what_recommend_says(values: list[float]) -> None:
    """Without start-up or cool-down the replay's replicas are recommend() of the minute
    before and its forecast."""
    load = np.asarray(values)
    forecast = np.tile(load[::-1][:1], (len(load), 12)) + np.arange(12)
    service = Service(capacity=9.0, startup=0, cooldown=1, max_replicas=500)
    ready = predictive(load, forecast, service)
    for t in range(1, len(load)):
        assert ready[t] == recommend(float(load[t - 1]), forecast[t], service)
