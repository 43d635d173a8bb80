"""Bodies of the autoscale API: a named series' service, its load, the recommended replicas.

The same rules as ``schemas.py``: requests derive from :class:`~skyroute.fields.Strict` (no
unknown fields, no NaN or infinity), so bad input is a 422 naming the field on every database.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, Field

from skyroute.bundles.forecaster import HORIZON
from skyroute.fields import Moment, Strict

#: A series name, as the URL carries it: a valid Kubernetes label value, so it can also name the
#: workload's own objects (the gauge's label is the series' random ``metric_id``, not its name).
SERIES_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
SeriesName = Annotated[
    str,
    Path(
        pattern=SERIES_PATTERN,
        description="Letters, digits, '.', '_' or '-'; 1-63 characters, starting and ending "
        "with a letter or digit.",
    ),
]
#: Points one load request may carry (a day of minutes).
MAX_POINTS = 1440


class SeriesIn(Strict):
    """The service behind a series, as ``skyroute.autoscale.scaling.Service`` describes it.

    Scale-down stabilisation is not here: the HPA's or KEDA's own window applies it.
    """

    capacity_per_replica: float = Field(
        gt=0, le=1e9, description="Calls per minute one replica serves at full utilisation."
    )
    target: float = Field(0.7, gt=0, le=1, description="Utilisation the replicas are sized for.")
    startup_minutes: int = Field(
        2, ge=0, le=HORIZON - 1, description="Minutes from asking for a replica to it serving."
    )
    lookahead_minutes: int = Field(
        0, ge=0, le=HORIZON - 1, description="Minutes past readiness provisioned for (predictive)."
    )
    min_replicas: int = Field(1, ge=0, le=10_000)
    max_replicas: int = Field(100, ge=1, le=10_000)


class MetricRef(BaseModel):
    """Where the recommendation appears on ``/metrics`` (for an HPA's external metric)."""

    name: str
    labels: dict[str, str]


class SeriesOut(SeriesIn):
    name: str
    created_at: str
    updated_at: str
    last_replicas: int | None = Field(description="The newest recommendation computed.")
    metric: MetricRef


class SeriesListOut(BaseModel):
    series: list[SeriesOut]
    limit: int = Field(description="Series a tenant may have (SKYROUTE_AUTOSCALE_MAX_SERIES).")


class LoadPoint(Strict):
    minute: Moment = Field(
        description="Start of the minute (whole minute; without a zone: UTC). Post a minute "
        "once it has ended; posting it again replaces it."
    )
    calls: float = Field(ge=0, le=1e12, description="Calls in that minute.")


class LoadIn(Strict):
    points: list[LoadPoint] = Field(min_length=1, max_length=MAX_POINTS)


class Observed(BaseModel):
    minute: str
    calls: float


class ModelRef(BaseModel):
    model_id: str
    version: str


class RecommendationOut(BaseModel):
    """What KEDA's metrics-api scaler reads (``valueLocation: replicas``)."""

    series: str
    replicas: int = Field(description="Replicas to run now: predictive when possible.")
    reactive_replicas: int = Field(description="Replicas for the last observed minute alone.")
    mode: Literal["predictive", "reactive"]
    forecast: list[float] | None = Field(
        description="Calls per minute over the 12 minutes after the last observed one."
    )
    observed: Observed | None = Field(description="The newest minute posted (None: none yet).")
    model: ModelRef | None = Field(
        description="The forecast.load version used, or that would have been when the answer "
        "is reactive for want of history or because the model failed."
    )
    reason: str


class LoadOut(BaseModel):
    series: str
    stored: int = Field(description="Minutes written (new or replaced) by this request.")
    pruned: int = Field(description="Minutes dropped as older than the kept day.")
    recommendation: RecommendationOut


class SeriesDeletedOut(BaseModel):
    series: str
    deleted: bool
