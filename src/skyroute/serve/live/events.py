"""The events the streams send, and the filters a subscriber chose, one pair per stream
(decisions, predictions, drift alerts).

Every event and every filter names its stream (``STREAM``): the hub keeps subscribers per
stream and tenant, and the Redis fan-out says which stream a message carries, so one hub and
one channel serve every stream.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson

from skyroute.errors import UnknownNameError

if TYPE_CHECKING:
    from skyroute.serve.tables import DriftAlert, SpotRecord

#: The query parameters the decision stream filters on (each optional, matched exactly).
FILTER_PARAMS = ("engine", "provider", "region")
#: The query parameters the prediction stream filters on.
PREDICTION_FILTER_PARAMS = ("instance_type", "region")
#: The query parameters the alert stream filters on.
ALERT_FILTER_PARAMS = ("kind", "engine")
#: The kinds of drift alert.
ALERT_KINDS = ("input", "error")


class LiveEvent(Protocol):
    """What the hub and the fan-out need of an event: its stream, id, tenant and JSON."""

    STREAM: ClassVar[str]

    @property
    def id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    def to_json(self) -> bytes: ...


class EventFilter(Protocol):
    """A subscriber's choice within one stream."""

    STREAM: ClassVar[str]

    def matches(self, event: Any) -> bool: ...


@dataclass(frozen=True)
class DecisionEvent:
    """One stored decision as the stream shows it; ``id`` is the decision id (the cursor)."""

    STREAM: ClassVar[str] = "decisions"

    id: str
    tenant_id: str
    created_at: str
    function_id: str
    engine: str
    provider: str
    region: str
    memory_mb: int
    platform: str
    purchase: str
    fallback: bool
    fallback_reason: str | None
    expected: dict[str, Any]
    explanation: str
    #: The process that made the decision (None when replayed from the database).
    worker: str | None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionEvent:
        return cls(**data)


def event_of(row: Mapping[str, Any], worker: str | None) -> DecisionEvent:
    """The event of a ``decisions`` row (the writer's column values or a row read back)."""
    response = row["response"]
    placement = response["placement"]
    created = utc(row["created_at"])
    return DecisionEvent(
        id=str(row["id"]),
        tenant_id=str(row["tenant_id"]),
        created_at=created.isoformat(),
        function_id=str(row["function_id"]),
        engine=str(row["engine"]),
        provider=str(placement["provider"]),
        region=str(placement["region"]),
        memory_mb=int(placement["memory_mb"]),
        platform=str(placement["platform"]),
        purchase=str(placement["purchase"]),
        fallback=bool(row["fallback"]),
        fallback_reason=response.get("fallback_reason"),
        expected=dict(response.get("expected") or {}),
        explanation=str(response.get("explanation", "")),
        worker=worker,
    )


@dataclass(frozen=True)
class Filters:
    """What a decision subscriber wants to see (None: everything)."""

    STREAM: ClassVar[str] = "decisions"

    engine: str | None = None
    provider: str | None = None
    region: str | None = None

    def matches(self, event: DecisionEvent) -> bool:
        return (
            (self.engine is None or event.engine == self.engine)
            and (self.provider is None or event.provider == self.provider)
            and (self.region is None or event.region == self.region)
        )

    @classmethod
    def parse(
        cls, params: Mapping[str, str], providers: Collection[str], regions: Collection[str]
    ) -> Filters:
        """The filters of a stream's query; an unknown provider or region is an
        ``UnknownNameError`` with a "did you mean"."""
        values = {name: params.get(name) or None for name in FILTER_PARAMS}
        provider, region = values["provider"], values["region"]
        if provider is not None and provider not in providers:
            raise UnknownNameError("provider", provider, providers)
        if region is not None and region not in regions:
            raise UnknownNameError("region", region, regions)
        return cls(**values)


@dataclass(frozen=True)
class PredictionEvent:
    """One stored spot prediction (``kind`` "prediction") or spot-optimize recommendation
    (``kind`` "decision"); ``id`` is the ``spot_records`` id (the cursor), ``value`` the
    interruption probability or the recommended instance count, ``payload`` the full answer."""

    STREAM: ClassVar[str] = "predictions"

    id: str
    tenant_id: str
    created_at: str
    kind: str
    instance_type: str
    region: str
    value: float
    method: str | None
    model_version: str | None
    payload: dict[str, Any]
    #: The process that made the prediction (None when replayed from the database).
    worker: str | None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictionEvent:
        return cls(**data)


def prediction_event_of(record: SpotRecord, worker: str | None) -> PredictionEvent:
    """The event of a ``spot_records`` row (a new one or one read back)."""
    payload = dict(record.payload or {})
    return PredictionEvent(
        id=record.id,
        tenant_id=record.tenant_id,
        created_at=utc(record.at).isoformat(),
        kind=record.kind,
        instance_type=record.instance_type,
        region=record.region,
        value=float(record.value),
        method=payload.get("method"),
        model_version=payload.get("model_version"),
        payload=payload,
        worker=worker,
    )


@dataclass(frozen=True)
class PredictionFilters:
    """What a prediction subscriber wants to see (None: everything)."""

    STREAM: ClassVar[str] = "predictions"

    instance_type: str | None = None
    region: str | None = None

    def matches(self, event: PredictionEvent) -> bool:
        return (self.instance_type is None or event.instance_type == self.instance_type) and (
            self.region is None or event.region == self.region
        )

    @classmethod
    def parse(
        cls, params: Mapping[str, str], instance_types: Collection[str], regions: Collection[str]
    ) -> PredictionFilters:
        """The filters of a stream's query; an unknown instance type or region is an
        ``UnknownNameError`` with a "did you mean"."""
        values = {name: params.get(name) or None for name in PREDICTION_FILTER_PARAMS}
        instance_type, region = values["instance_type"], values["region"]
        if instance_type is not None and instance_type not in instance_types:
            raise UnknownNameError("instance type", instance_type, instance_types)
        if region is not None and region not in regions:
            raise UnknownNameError("region", region, regions)
        return cls(**values)


@dataclass(frozen=True)
class AlertEvent:
    """One stored drift alert (``serve/drift_monitor.py``); ``id`` is the alert id (the
    cursor). Its fields are the ``drift_alerts`` columns as ``GET /drift/alerts`` shows them."""

    STREAM: ClassVar[str] = "alerts"

    id: str
    tenant_id: str
    created_at: str
    kind: str
    engine: str
    model_id: str
    model_version: str
    feature: str
    psi: float | None
    p_value: float
    threshold: float
    n: int
    window_first_at: str
    window_last_at: str
    message: str
    #: The process that stored the alert (None when replayed from the database).
    worker: str | None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        return cls(**data)


def alert_event_of(alert: DriftAlert, worker: str | None) -> AlertEvent:
    """The event of a ``drift_alerts`` row (a new one or one read back)."""
    return AlertEvent(
        id=alert.id,
        tenant_id=alert.tenant_id,
        created_at=utc(alert.created_at).isoformat(),
        kind=alert.kind,
        engine=alert.engine,
        model_id=alert.model_id,
        model_version=alert.model_version,
        feature=alert.feature,
        psi=alert.psi,
        p_value=alert.p_value,
        threshold=alert.threshold,
        n=alert.n,
        window_first_at=utc(alert.window_first_at).isoformat(),
        window_last_at=utc(alert.window_last_at).isoformat(),
        message=alert.message,
        worker=worker,
    )


@dataclass(frozen=True)
class AlertFilters:
    """What an alert subscriber wants to see (None: everything)."""

    STREAM: ClassVar[str] = "alerts"

    kind: str | None = None
    engine: str | None = None

    def matches(self, event: AlertEvent) -> bool:
        return (self.kind is None or event.kind == self.kind) and (
            self.engine is None or event.engine == self.engine
        )

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> AlertFilters:
        """The filters of a stream's query; an unknown kind is an ``UnknownNameError``."""
        values = {name: params.get(name) or None for name in ALERT_FILTER_PARAMS}
        kind = values["kind"]
        if kind is not None and kind not in ALERT_KINDS:
            raise UnknownNameError("alert kind", kind, ALERT_KINDS)
        return cls(**values)


#: Each stream's event type, by name (the fan-out decodes messages with it).
EVENT_TYPES: dict[str, type[DecisionEvent] | type[PredictionEvent] | type[AlertEvent]] = {
    DecisionEvent.STREAM: DecisionEvent,
    PredictionEvent.STREAM: PredictionEvent,
    AlertEvent.STREAM: AlertEvent,
}


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite reads naive ones back; they were UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
