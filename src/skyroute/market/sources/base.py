"""The one interface every market data source implements, and the errors they raise."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from skyroute.errors import SkyRouteError
from skyroute.market.points import MarketPoint, SeriesKey


class SourceError(SkyRouteError):
    """A source cannot serve a request (no credentials, series it does not know, API failure)."""

    code = "source_unavailable"


class MarketSource(Protocol):
    """Fetches the points of one series in a time range.

    ``fetch`` returns every point with ``start <= at < end`` it has, sorted by time; an empty
    list means the source has nothing there (the caller may try the next source). Calling it
    twice with the same arguments returns the same points, so a retried chunk writes the same
    rows.
    """

    name: str

    def covers(self, key: SeriesKey) -> bool:
        """Whether this source can ever have points of ``key`` (cheap, no network)."""
        ...

    def fetch(self, key: SeriesKey, start: datetime, end: datetime) -> list[MarketPoint]: ...
