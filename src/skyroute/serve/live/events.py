"""The events the streams send, and the filters a subscriber chose, one pair per stream.

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
    from skyroute.serve.tables import SpotRecord

#: The query parameters the decision stream filters on (each optional, matched exactly).
FILTER_PARAMS = ("engine", "provider", "region")
#: The query parameters the prediction stream filters on.
PREDICTION_FILTER_PARAMS = ("instance_type", "region")


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


#: Each stream's event type, by name (the fan-out decodes messages with it).
EVENT_TYPES: dict[str, type[DecisionEvent] | type[PredictionEvent]] = {
    DecisionEvent.STREAM: DecisionEvent,
    PredictionEvent.STREAM: PredictionEvent,
}


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite reads naive ones back; they were UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
