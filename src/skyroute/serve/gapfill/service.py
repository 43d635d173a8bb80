"""Gap-filler requests as the API and the CLI make them: analyze, and start a fill job."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.orm import Session

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.fields import Day, Text
from skyroute.market.points import DATA_TYPES, SOURCES
from skyroute.market.sources.base import SourceError
from skyroute.market.universe import series_for
from skyroute.serve import registry
from skyroute.serve.errors import ApiError
from skyroute.serve.gapfill import jobs
from skyroute.serve.gapfill.plan import (
    REQUIRED_DATA_TYPES,
    coverage,
    fill_range,
    parse_trained_until,
    today,
)
from skyroute.serve.schemas import Strict
from skyroute.serve.settings import Settings
from skyroute.serve.state import AppState
from skyroute.serve.tables import GapFillJob


class SeriesIn(Strict):
    instance_types: list[Annotated[Text, Field(max_length=60)]] | None = Field(
        None, description="Instance types, e.g. m5.large (default: GAP_FILLER_INSTANCE_TYPES)."
    )
    regions: list[Annotated[Text, Field(max_length=40)]] | None = Field(
        None, description="Regions, e.g. us-east-1 (default: GAP_FILLER_REGIONS)."
    )
    data_types: list[Annotated[Text, Field(max_length=20)]] | None = Field(
        None, description=f"Any of {list(DATA_TYPES)} (default: what the model needs)."
    )
    model_id: Text | None = Field(
        None, max_length=100, description="Take trained_until and needs from it."
    )
    version: Text | None = Field(
        None, max_length=50, description="Model version (default: the active one)."
    )


class AnalyzeIn(SeriesIn):
    trained_until: Day | None = Field(None, description="Instead of a model's.")
    current_date: Day | None = Field(None, description="Default: today (UTC).")


class FillIn(SeriesIn):
    start: Day | None = Field(None, description="First day (default: the model's gap start).")
    end: Day | None = Field(None, description="Last day, inclusive (default: today).")
    source: Text = Field("auto", max_length=20, description="aws, embedded, synthetic, or auto.")
    fallback: bool = Field(False, description="Use synthetic data where the source fails.")


def _model(session: Session, tenant_id: str | None, body: SeriesIn) -> tuple[date, str] | None:
    """(trained_until, kind) of the model the request names, if it names one."""
    if body.model_id is None:
        return None
    if tenant_id is None:
        raise ConfigError("models belong to tenants", "give trained_until or start instead")
    version = body.version
    if version is None:
        split = registry.current_split(session, tenant_id, body.model_id)
        if not split:
            raise ApiError(
                409, "no_model", f"model {body.model_id!r} has no active version", "pass version"
            )
        version = max(split, key=lambda pair: pair[1])[0]
    row = registry.get_version(session, tenant_id, body.model_id, version)
    return parse_trained_until(row.trained_until, f"{body.model_id}@{version}"), row.kind


def _series(settings: Settings, body: SeriesIn, kind: str | None) -> tuple[list[Any], list[str]]:
    needed = list(REQUIRED_DATA_TYPES.get(kind, ())) if kind else []
    data_types = body.data_types or needed or list(DATA_TYPES)
    keys = series_for(
        body.instance_types or list(settings.gap_filler_instance_types),
        body.regions or list(settings.gap_filler_regions),
        data_types,
    )
    return keys, data_types


def analyze(
    session: Session, settings: Settings, tenant_id: str | None, body: AnalyzeIn
) -> dict[str, Any]:
    """The gap since ``trained_until``: its length, what data it needs and what is there."""
    model = _model(session, tenant_id, body)
    trained_until = model[0] if model else body.trained_until
    if trained_until is None:
        raise ConfigError(
            "no trained_until to measure the gap from", "pass model_id or trained_until"
        )
    current = body.current_date or today()
    keys, data_types = _series(settings, body, model[1] if model else None)
    start = trained_until + timedelta(days=1)
    return {
        "trained_until": trained_until.isoformat(),
        "current_date": current.isoformat(),
        "gap_days": max(0, (current - trained_until).days),
        "required_data_types": data_types,
        "historic_days_max": settings.gap_filler_historic_days_max,
        "coverage": coverage(session, keys, start, current + timedelta(days=1)),
    }


def resolve_source(name: str, fallback: bool) -> str:
    """The source a job uses; ``auto`` is aws with credentials, else the synthetic extension."""
    if name not in (*SOURCES, "auto"):
        raise UnknownNameError("market data source", name, (*SOURCES, "auto"))
    if name not in ("aws", "auto"):
        return name
    from skyroute.market.sources.aws import has_credentials

    if has_credentials():
        return "aws"
    if name == "auto":
        return "synthetic"
    if not fallback:
        raise SourceError(
            "source 'aws' was asked for, but no AWS credentials were found",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), use source "
            "'synthetic', or pass fallback: true",
        )
    return "aws"  # every chunk fails over to the synthetic extension, labelled as such


def start_fill(
    session: Session,
    settings: Settings,
    tenant_id: str | None,
    body: FillIn,
    until: datetime | None = None,
) -> GapFillJob:
    """Validate a fill request and persist it as a job for the workers."""
    model = _model(session, tenant_id, body)
    start = body.start or (model[0] + timedelta(days=1) if model else None)
    if start is None:
        raise ConfigError("no start day for the fill", "pass start (YYYY-MM-DD) or model_id")
    end = body.end or today()
    days = fill_range(start, end + timedelta(days=1), settings.gap_filler_historic_days_max)
    keys, data_types = _series(settings, body, model[1] if model else None)
    source = resolve_source(body.source, body.fallback)
    request = body.model_dump(mode="json") | {
        "source": source,
        "asked_source": body.source,
        "data_types": data_types,
        "start": days.start.isoformat(),
        "end": (days.end - timedelta(days=1)).isoformat(),
        "series": [k.label for k in keys],
    }
    return jobs.create_job(session, tenant_id, keys, days, request, until)


def fill_on_startup(state: AppState) -> GapFillJob | None:
    """GAP_FILLER_RUN_ON_STARTUP: an operator job for the configured series.

    It starts the day after the oldest ``trained_until`` among active spot models (a week ago
    when there are none), capped at GAP_FILLER_HISTORIC_DAYS_MAX days.
    """
    settings = state.settings
    with state.sessions() as session:
        oldest = registry.oldest_active_trained_until(session, ("spot.interruption", "spot.price"))
        cap_start = today() - timedelta(days=settings.gap_filler_historic_days_max - 1)
        start = max(cap_start, oldest + timedelta(days=1)) if oldest else today() - timedelta(7)
        body = FillIn(start=min(start, today()), source="auto", fallback=True)
        job = start_fill(session, settings, None, body)
    state.nudge_gap_filler()
    return job
