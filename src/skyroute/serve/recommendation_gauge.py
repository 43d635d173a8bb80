"""``skyroute_recommended_replicas``: each autoscale series' newest recommendation, for an HPA.

The values are read from the database when ``/metrics`` is scraped, not kept in the process.
Whichever server pod and worker answers, it reports the same value: the newest recommendation
any of them computed (stored on the series when load is posted or the recommendation is read,
``serve/autoscale_recommend.py``). An in-process gauge could not do that: with several pods each
reports its own last value, so an HPA reading the pods' series sees stale ones next to the
fresh one; and prometheus_client's multiprocess mode cannot remove a deleted series' label set
("not implemented in multi-process mode"). One indexed query per scrape, over at most
``SKYROUTE_AUTOSCALE_MAX_SERIES`` rows per tenant.

One label, ``series_id``: the series' random ``metric_id`` (its API answers carry it), never the
tenant id or the series name -- ``/metrics`` is not authenticated, and a tenant must not learn
from it which other tenants exist or what they scale. Bounded by that limit.
A scrape during a database outage reports no samples (the HPA then keeps its replicas) and
logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from skyroute.market.points import utc
from skyroute.serve.tables import AutoscaleSeries

log = logging.getLogger(__name__)

NAME = "skyroute_recommended_replicas"
OBSERVED_NAME = "skyroute_recommended_replicas_observed_timestamp_seconds"
LABELS = ("series_id",)


class RecommendationGauge:
    """A collector over the stored recommendations; reports nothing until :meth:`bind`."""

    def __init__(self) -> None:
        self._sessions: sessionmaker[Session] | None = None

    def bind(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        replicas = GaugeMetricFamily(
            NAME,
            "Replicas recommended for a tenant's autoscale series (newest computed)",
            labels=LABELS,
        )
        observed = GaugeMetricFamily(
            OBSERVED_NAME,
            "Unix time of the newest load minute that recommendation read (stale when old)",
            labels=LABELS,
        )
        for series_id, value, minute in self._rows():
            replicas.add_metric([series_id], float(value))
            if minute is not None:
                observed.add_metric([series_id], utc(minute).timestamp())
        yield replicas
        yield observed

    def _rows(self) -> list[tuple[str, int, datetime | None]]:
        if self._sessions is None:
            return []
        try:
            with self._sessions() as session:
                rows = session.execute(
                    select(
                        AutoscaleSeries.metric_id,
                        AutoscaleSeries.last_replicas,
                        AutoscaleSeries.last_observed_minute,
                    )
                    .where(AutoscaleSeries.last_replicas.is_not(None))
                    .order_by(AutoscaleSeries.metric_id)
                ).all()
        except Exception as exc:  # a scrape must not fail: report no samples, say why
            log.warning("recommended replicas not read for /metrics: %s", exc)
            return []
        return [(str(i), int(r), m) for i, r, m in rows if r is not None]
