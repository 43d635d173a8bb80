"""The recommended replicas of a tenant's autoscale series, right now.

Predictive when the tenant has an active ``forecast.load`` model and the series has its
``window`` minutes of load without a gap, up to the newest minute posted: then the replicas are
``skyroute.autoscale.scaling.recommend`` of that minute's load and the model's 12-minute forecast
-- the rule ``skyroute autoscale simulate`` replays. Otherwise reactive (the same rule without a
forecast), and ``reason`` says why. Missing minutes are not taken as idle: a forecast from
invented zeros would say the service went quiet, so a caller whose service was idle posts 0.

The model is the tenant's active ``forecast.load`` (an A/B split picks a version per series,
sticky), loaded through the server's shared model cache (``serve/predictors.py``). A model that
cannot be loaded or fails at predict time makes the answer reactive, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from sqlalchemy.orm import Session

from skyroute.autoscale.scaling import Service, recommend
from skyroute.bundles.forecaster import KIND, Forecaster
from skyroute.serve import autoscale_store, model_registry
from skyroute.serve.predictors import predictor_for
from skyroute.serve.state import AppState
from skyroute.serve.tables import AutoscaleSeries

_MAX_REASON = 300
Mode = Literal["predictive", "reactive"]


@dataclass(frozen=True)
class Recommendation:
    series: str
    replicas: int
    reactive_replicas: int
    mode: Mode
    forecast: list[float] | None
    observed: tuple[datetime, float] | None
    model: tuple[str, str] | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        observed = self.observed
        return {
            "series": self.series,
            "replicas": self.replicas,
            "reactive_replicas": self.reactive_replicas,
            "mode": self.mode,
            "forecast": self.forecast,
            "observed": {"minute": observed[0].isoformat(), "calls": observed[1]}
            if observed
            else None,
            "model": {"model_id": self.model[0], "version": self.model[1]} if self.model else None,
            "reason": self.reason,
        }


def service_of(row: AutoscaleSeries) -> Service:
    """The series as ``scaling.Service`` (its cool-down is the HPA's or KEDA's, not used)."""
    return Service(
        capacity=row.capacity_per_replica,
        target=row.target,
        startup=row.startup_minutes,
        cooldown=1,
        lookahead=row.lookahead_minutes,
        min_replicas=row.min_replicas,
        max_replicas=row.max_replicas,
    )


@dataclass(frozen=True)
class _Model:
    forecaster: Forecaster | None
    ref: tuple[str, str] | None
    problem: str


def _model(session: Session, state: AppState, tenant_id: str, series: str) -> _Model:
    """The tenant's active forecaster for this series, or why there is none to use."""
    from skyroute.bundles.manifest import Manifest

    model_id = model_registry.active_by_kind(session, tenant_id).get(KIND)
    if model_id is None:
        return _Model(None, None, f"no active {KIND} model (upload and activate one)")
    split = model_registry.current_split(session, tenant_id, model_id)
    version = model_registry.pick_version(split, model_id, series)
    try:
        row = model_registry.get_version(session, tenant_id, model_id, version)
        forecaster = Forecaster.from_loaded(
            Manifest.from_dict(row.manifest), predictor_for(state, row)
        )
    except Exception as exc:  # a broken bundle answers reactive, never a 500
        state.metrics.model_load_failures.labels(KIND).inc()
        problem = f"model {model_id}@{version} cannot be used ({type(exc).__name__}: {exc})"
        return _Model(None, (model_id, version), problem)
    return _Model(forecaster, (model_id, version), "")


def compute(session: Session, state: AppState, row: AutoscaleSeries) -> Recommendation:
    """The series' recommendation from what is stored now (reads only)."""
    service = service_of(row)
    model = _model(session, state, row.tenant_id, row.name)
    window = model.forecaster.window if model.forecaster else 1
    history, total = autoscale_store.recent_load(
        session, row.tenant_id, row.name, min(window, autoscale_store.RETAINED_MINUTES)
    )
    if not history:
        replicas = service.wanted(0.0)
        reason = "reactive: no load posted yet; POST .../load with per-minute calls"
        return Recommendation(row.name, replicas, replicas, "reactive", None, None, None, reason)
    observed = history[-1]
    reactive = recommend(observed[1], None, service)

    def answer(forecast: list[float] | None, why: str) -> Recommendation:
        replicas = (
            reactive if forecast is None else recommend(observed[1], np.asarray(forecast), service)
        )
        mode: Mode = "reactive" if forecast is None else "predictive"
        return Recommendation(
            row.name, replicas, reactive, mode, forecast, observed, model.ref, why[:_MAX_REASON]
        )

    forecaster = model.forecaster
    if forecaster is None:
        return answer(None, f"reactive: {model.problem}")
    label = f"{model.ref[0]}@{model.ref[1]}" if model.ref else KIND
    problem = _history_problem(forecaster.window, len(history), total, label)
    if problem:
        return answer(None, f"reactive: {problem}")
    try:
        forecast = forecaster.forecast([calls for _, calls in history])
    except Exception as exc:  # the model failed at predict time: reactive, with the reason
        return answer(None, f"reactive: {label} failed ({type(exc).__name__}: {exc})")
    why = f"predictive: {label} forecast from the last {forecaster.window} minutes"
    return answer([float(v) for v in forecast], why)


def _history_problem(window: int, recent: int, total: int, label: str) -> str | None:
    """Why ``recent`` of the last ``window`` minutes (``total`` stored) cannot be forecast
    from, or None when they can."""
    kept = autoscale_store.RETAINED_MINUTES
    if window > kept:
        return f"{label} reads {window} minutes, more than the {kept} kept per series"
    if recent >= window:
        return None
    if total < window:
        return (
            f"short history, {total} of the {window} minutes {label} reads (post idle minutes as 0)"
        )
    return (
        f"{window - recent} of the last {window} minutes are missing "
        "(a gap is not taken as idle: post idle minutes as 0)"
    )


def recommend_and_store(session: Session, state: AppState, row: AutoscaleSeries) -> Recommendation:
    """Compute the recommendation and keep it on the series for the gauge."""
    result = compute(session, state, row)
    observed = result.observed[0] if result.observed else None
    autoscale_store.store_recommendation(
        session, row.tenant_id, row.name, result.replicas, observed
    )
    return result
