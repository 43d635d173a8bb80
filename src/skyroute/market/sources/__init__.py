"""Market data sources behind one interface (:class:`~skyroute.market.sources.base.MarketSource`).

``aws`` asks the EC2 API, ``embedded`` answers from the shipped snapshot, ``synthetic`` extends
the snapshot to any date and labels every point it makes as synthetic.
"""

from __future__ import annotations

from skyroute.errors import UnknownNameError
from skyroute.market.points import SOURCES
from skyroute.market.sources.base import MarketSource, SourceError


def make_source(name: str, **options: object) -> MarketSource:
    """The source called ``name`` (``aws`` takes ``region`` and ``endpoint_url``)."""
    if name == "embedded":
        from skyroute.market.sources.embedded import EmbeddedSource

        return EmbeddedSource()
    if name == "synthetic":
        from skyroute.market.sources.synthetic import SyntheticSource

        return SyntheticSource()
    if name == "aws":
        from skyroute.market.sources.aws import AwsSpotSource

        return AwsSpotSource(**options)  # type: ignore[arg-type]
    raise UnknownNameError("market data source", name, SOURCES)


__all__ = ["MarketSource", "SourceError", "make_source"]
