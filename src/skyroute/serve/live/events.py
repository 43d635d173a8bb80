"""The decision event a stream sends, and the filters a subscriber chose."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from skyroute.errors import UnknownNameError

#: The query parameters a stream filters on (each optional, matched exactly).
FILTER_PARAMS = ("engine", "provider", "region")


@dataclass(frozen=True)
class DecisionEvent:
    """One stored decision as the stream shows it; ``id`` is the decision id (the cursor)."""

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
    """What a subscriber wants to see (None: everything)."""

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


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite reads naive ones back; they were UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
