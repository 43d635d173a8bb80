"""Predictions against actuals, per live series: what the dashboard's chart plots.

Each point is one stored live prediction with what it was compared with: the actual posted
for it (``actual_source: "posted"``; ``interrupted`` counts as 1.0 or 0.0) or, for a price
without one, the market's observed spot price at its ``target_at`` (``"market"``: the mean over
zones of the price in effect then, ``market/price_baseline.py``), once the filled market data
reaches ``target_at``. Before that, and for interruptions nobody reported, ``actual`` is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.errors import UnknownNameError
from skyroute.gapfill.store import fresh_until
from skyroute.gapfill.tables import MarketPointRow
from skyroute.market.points import SeriesKey, utc
from skyroute.market.price_baseline import Observed, ZonePoint, in_effect
from skyroute.serve import live_series, spot
from skyroute.serve.auth import now
from skyroute.serve.live_rounds import INTERRUPTION, PRICE
from skyroute.serve.tables import PredictionActual, SpotRecord

#: The API's kind names and the ``spot_records`` kinds they read.
KINDS = {"interruption": INTERRUPTION, "price": PRICE}
#: How far before a target a zone's last price change is looked for.
LOOKBACK = timedelta(days=7)


def check_names(instance_type: str | None, region: str | None) -> None:
    """Unknown instance types or regions are a 422 with a "did you mean" (the market universe,
    as the predictions stream's filters)."""
    from skyroute.market import universe

    pairs = universe.offers()
    if instance_type is not None and instance_type not in {t for t, _ in pairs}:
        raise UnknownNameError("instance type", instance_type, {t for t, _ in pairs})
    if region is not None and region not in {r for _, r in pairs}:
        raise UnknownNameError("region", region, {r for _, r in pairs})


def _market(
    session: Session, instance_type: str, region: str, targets: Sequence[datetime]
) -> list[Observed | None]:
    """The observed spot price at each target, None where the filled data does not reach it."""
    if not targets:
        return []
    key = SeriesKey("spot_price", spot.provider_of(instance_type, region), region, instance_type)
    until, _ = fresh_until(session, key)
    known = [t for t in targets if until is not None and t <= until]
    if not known:
        return [None] * len(targets)
    rows = session.execute(
        select(
            MarketPointRow.zone, MarketPointRow.at, MarketPointRow.value, MarketPointRow.synthetic
        ).where(
            MarketPointRow.data_type == key.data_type,
            MarketPointRow.provider == key.provider,
            MarketPointRow.region == region,
            MarketPointRow.instance_type == instance_type,
            MarketPointRow.at >= min(known) - LOOKBACK,
            MarketPointRow.at <= max(known),
        )
    ).all()
    points = [ZonePoint(zone, utc(at), float(value), bool(s)) for zone, at, value, s in rows]
    observed = dict(zip(known, in_effect(points, known), strict=True))
    return [observed.get(t) for t in targets]


def _points(
    session: Session, kind: str, rows: Sequence[tuple[SpotRecord, PredictionActual | None]]
) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for record, posted in rows:
        target = record.payload.get("target_at")
        actual: float | None = None
        if posted is not None:
            value = posted.interrupted if kind == INTERRUPTION else posted.price_usd
            actual = None if value is None else float(value)
        points.append(
            {
                "prediction_id": record.id,
                "at": utc(record.at).isoformat(),
                "target_at": target,
                "predicted": record.value,
                "confidence": record.payload.get("confidence"),
                "actual": actual,
                "actual_source": "posted" if actual is not None else None,
                "actual_synthetic": None,
            }
        )
    if kind == PRICE and rows:
        waiting = [p for p in points if p["actual"] is None and p["target_at"]]
        targets = [utc(datetime.fromisoformat(p["target_at"])) for p in waiting]
        first = rows[0][0]
        market = _market(session, first.instance_type, first.region, targets)
        for point, seen in zip(waiting, market, strict=True):
            if seen is not None:
                point.update(actual=seen.value, actual_source="market")
                point["actual_synthetic"] = seen.synthetic
    return points


def series(
    session: Session,
    tenant_id: str,
    *,
    instance_type: str | None = None,
    region: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """The tenant's live predictions with their actuals, one series per type, region and kind
    (the newest ``limit`` points of each, oldest first), and the tenant's live series (fills
    completed since the last round included)."""
    check_names(instance_type, region)
    where = [SpotRecord.tenant_id == tenant_id]
    where.append(SpotRecord.kind.in_([KINDS[kind]] if kind else list(KINDS.values())))
    if instance_type is not None:
        where.append(SpotRecord.instance_type == instance_type)
    if region is not None:
        where.append(SpotRecord.region == region)
    if since is not None:
        where.append(SpotRecord.at >= utc(since))
    keys = session.execute(
        select(SpotRecord.instance_type, SpotRecord.region, SpotRecord.kind)
        .where(*where)
        .distinct()
        .order_by(SpotRecord.instance_type, SpotRecord.region, SpotRecord.kind)
    ).all()
    names = {stored: name for name, stored in KINDS.items()}
    out = []
    for key_type, key_region, key_kind in keys:
        rows = session.execute(
            select(SpotRecord, PredictionActual)
            .outerjoin(PredictionActual, PredictionActual.prediction_id == SpotRecord.id)
            .where(
                *where,
                SpotRecord.instance_type == key_type,
                SpotRecord.region == key_region,
                SpotRecord.kind == key_kind,
            )
            .order_by(SpotRecord.at.desc(), SpotRecord.id.desc())
            .limit(limit)
        ).all()
        pairs = [(record, posted) for record, posted in reversed(rows)]
        out.append(
            {
                "instance_type": key_type,
                "region": key_region,
                "kind": names[key_kind],
                "points": _points(session, key_kind, pairs),
            }
        )
    # Fills completed since the last round are live already (an idempotent write).
    live_series.adopt_completed_fills(session, now())
    live = live_series.live_series(session, tenant_id, instance_type, region)
    return {"series": out, "live_series": [live_series.as_dict(row) for row in live]}
