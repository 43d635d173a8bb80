"""Gap-filler requests as the API and the CLI make them: analyze, and start a fill job.

Nothing here knows the server: the settings are anything with the ``gap_filler_*`` values
(:class:`FillSettings`), and a request naming a ``model_id`` needs a :data:`ModelLookup` (the
server passes its model registry; the CLI passes a bundle's ``trained_until`` instead).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import Field
from sqlalchemy.orm import Session

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.fields import Day, Strict, Text
from skyroute.gapfill import jobs
from skyroute.gapfill.plan import (
    REQUIRED_DATA_TYPES,
    NotFilled,
    capped_start,
    coverage,
    fill_range,
    today,
)
from skyroute.gapfill.tables import GapFillJob
from skyroute.market.points import DATA_TYPES, SOURCES
from skyroute.market.sources.base import SourceError
from skyroute.market.universe import series_for

#: (session, tenant_id, model_id, version or None for the active one) -> (trained_until, kind).
ModelLookup = Callable[[Session, str | None, str, str | None], tuple[date, str]]


class FillSettings(Protocol):
    """The settings a fill reads (the server's ``Settings`` has them)."""

    @property
    def gap_filler_instance_types(self) -> tuple[str, ...]: ...

    @property
    def gap_filler_regions(self) -> tuple[str, ...]: ...

    @property
    def gap_filler_historic_days_max(self) -> int: ...


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
    start: Day | None = Field(
        None,
        description="First day, refused beyond GAP_FILLER_HISTORIC_DAYS_MAX (default: the "
        "model's gap start, moved forward to the cap; the days left out are reported).",
    )
    trained_until: Day | None = Field(None, description="Instead of a model's (start after it).")
    end: Day | None = Field(None, description="Last day, inclusive (default: today).")
    source: Text = Field("auto", max_length=20, description="aws, embedded, synthetic, or auto.")
    fallback: bool = Field(False, description="Use synthetic data where the source fails.")


def _model(
    session: Session, tenant_id: str | None, body: SeriesIn, models: ModelLookup | None
) -> tuple[date, str] | None:
    """(trained_until, kind) of the model the request names, if it names one."""
    if body.model_id is None:
        return None
    if models is None:
        raise ConfigError(
            f"model_id {body.model_id!r} needs the server's model registry",
            "give trained_until or start instead (the CLI reads them from --bundle)",
        )
    return models(session, tenant_id, body.model_id, body.version)


def _series(
    settings: FillSettings, body: SeriesIn, kind: str | None
) -> tuple[list[Any], list[str]]:
    needed = list(REQUIRED_DATA_TYPES.get(kind, ())) if kind else []
    data_types = body.data_types or needed or list(DATA_TYPES)
    keys = series_for(
        body.instance_types or list(settings.gap_filler_instance_types),
        body.regions or list(settings.gap_filler_regions),
        data_types,
    )
    return keys, data_types


def analyze(
    session: Session,
    settings: FillSettings,
    tenant_id: str | None,
    body: AnalyzeIn,
    *,
    models: ModelLookup | None = None,
) -> dict[str, Any]:
    """The gap since ``trained_until``: its length, what data it needs and what is there."""
    model = _model(session, tenant_id, body, models)
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
    settings: FillSettings,
    tenant_id: str | None,
    body: FillIn,
    until: datetime | None = None,
    *,
    models: ModelLookup | None = None,
) -> GapFillJob:
    """Validate a fill request and persist it as a job for the workers."""
    model = _model(session, tenant_id, body, models)
    trained_until = model[0] if model else body.trained_until
    end = body.end or today()
    cap = settings.gap_filler_historic_days_max
    not_filled: NotFilled | None = None
    if body.start is not None:
        start = body.start
    elif trained_until is not None:
        start, not_filled = capped_start(
            trained_until + timedelta(days=1), end + timedelta(days=1), cap
        )
    else:
        raise ConfigError(
            "no start day for the fill", "pass start (YYYY-MM-DD), trained_until or model_id"
        )
    days = fill_range(start, end + timedelta(days=1), cap)
    keys, data_types = _series(settings, body, model[1] if model else None)
    source = resolve_source(body.source, body.fallback)
    request = body.model_dump(mode="json") | {
        "source": source,
        "asked_source": body.source,
        "data_types": data_types,
        "start": days.start.isoformat(),
        "end": (days.end - timedelta(days=1)).isoformat(),
        "series": [k.label for k in keys],
        "not_filled": not_filled.as_dict() if not_filled else None,
    }
    return jobs.create_job(session, tenant_id, keys, days, request, until)
