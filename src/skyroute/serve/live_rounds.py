"""Live predictions: one round predicts every live series, a thread runs a round per interval.

Each live series (``serve/live_series.py``) gets two ``spot_records`` rows per round, both
published on the predictions stream:

- ``live-interruption``: the interruption probability of ``serve/spot.py`` (the tenant's
  active ``spot.interruption`` model, else the Spot Advisor bucket), ``target_at`` = at + 24 h;
- ``live-price``: the spot price :data:`PRICE_HORIZON_HOURS` ahead, forecast as the recent mean
  of the filled hourly prices (``market/price_baseline.py``), ``target_at`` = at + 6 h.

Payloads carry ``confidence``, ``target_at``, ``method``, ``model_version``, ``synthetic`` and
``not_filled`` (what the fill that made the series live left out).

Scheduled rounds run in every server process (``LIVE_PREDICTION_INTERVAL_SECONDS``); time is
cut into slots of that length, and a scheduled prediction is stored with its slot (the slot's
start in milliseconds since the epoch, so a changed interval never reuses an old slot) under a
unique key (tenant, kind, instance type, region, slot). Whichever process inserts first wins;
the others' inserts do nothing, so a slot is predicted once however many processes or
replicas run. Rounds asked for (``POST /predictions/run``) have no slot: they always predict.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from skyroute.errors import SkyRouteError
from skyroute.market.price_baseline import METHOD, recent_mean
from skyroute.market.spot_features import PRICE_HORIZON_HOURS
from skyroute.serve import spot
from skyroute.serve.auth import now
from skyroute.serve.live_series import adopt_completed_fills, live_series
from skyroute.serve.state import AppState
from skyroute.serve.tables import LiveSeries, SpotRecord

log = logging.getLogger(__name__)

INTERRUPTION = "live-interruption"
PRICE = "live-price"
KINDS = (INTERRUPTION, PRICE)


@dataclass(frozen=True)
class Prediction:
    """One prediction of one series, before it is stored."""

    kind: str
    value: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class RoundResult:
    stored: int
    series: int


def slot_of(at: datetime, interval_s: float) -> int:
    """The start (milliseconds since the epoch) of the ``interval_s``-long slot of ``at``."""
    return round(at.timestamp() // interval_s * interval_s * 1000)


def predict_series(
    session: Session, state: AppState, series: LiveSeries, at: datetime
) -> list[Prediction]:
    """Both kinds of prediction of one live series at ``at`` (the market read once)."""
    instance_type, region = series.instance_type, series.region
    context = spot.market_context(session, instance_type, region, at)
    answer = spot.interruption_probability(
        session, state, series.tenant_id, instance_type, region, None, at, context=context
    )
    common = {"not_filled": series.not_filled}
    target = at + timedelta(hours=answer["horizon_hours"])
    out = [
        Prediction(
            INTERRUPTION,
            answer["interruption_probability"],
            answer | common | {"target_at": target.isoformat()},
        )
    ]
    price = recent_mean(context.history)
    if price is not None:
        payload = {
            "instance_type": instance_type,
            "region": region,
            "provider": context.provider,
            "spot_price": round(price, 6),
            "horizon_hours": PRICE_HORIZON_HOURS,
            "target_at": (at + timedelta(hours=PRICE_HORIZON_HOURS)).isoformat(),
            "confidence": spot.confidence(context, at),
            "data_fresh_until": context.fresh_until.isoformat(),
            "synthetic": context.synthetic,
            "method": METHOD,
            "model_version": None,
            "last_price": context.history[-1],
            "history_hours": len(context.history),
        }
        out.append(Prediction(PRICE, round(price, 6), payload | common))
    return out


def _done(session: Session, tenant_id: str | None, slot: int) -> set[tuple[str, str, str, str]]:
    """(tenant, kind, instance type, region) already predicted in ``slot``."""
    query = select(
        SpotRecord.tenant_id, SpotRecord.kind, SpotRecord.instance_type, SpotRecord.region
    ).where(SpotRecord.slot == slot, SpotRecord.kind.in_(KINDS))
    if tenant_id is not None:
        query = query.where(SpotRecord.tenant_id == tenant_id)
    return {tuple(row) for row in session.execute(query).all()}  # type: ignore[misc]


def _store(
    session: Session, series: LiveSeries, predictions: list[Prediction], at: datetime,
    slot: int | None,
) -> list[SpotRecord]:  # fmt: skip
    """Insert the predictions (a slot's are skipped when another process stored them first)
    and commit; the rows this call stored."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "tenant_id": series.tenant_id,
            "kind": p.kind,
            "instance_type": series.instance_type,
            "region": series.region,
            "at": at,
            "value": p.value,
            "payload": p.payload | {"slot": slot},
            "slot": slot,
        }
        for p in predictions
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SpotRecord).values(rows).on_conflict_do_nothing()
    stored = set(session.execute(statement.returning(SpotRecord.id)).scalars())
    if stored:
        session.execute(
            update(LiveSeries)
            .where(
                LiveSeries.tenant_id == series.tenant_id,
                LiveSeries.instance_type == series.instance_type,
                LiveSeries.region == series.region,
            )
            .values(last_predicted_at=at)
        )
    session.commit()
    return [SpotRecord(**row) for row in rows if row["id"] in stored]


def run_round(
    state: AppState, tenant_id: str | None = None, at: datetime | None = None,
    slot: int | None = None,
) -> RoundResult:  # fmt: skip
    """Predict every live series (of ``tenant_id``, or of all tenants) at ``at``; publish.

    Completed fills are adopted first, so a series is live from the first round after its
    fill. With ``slot``, series already predicted in it (by any process) are skipped.
    """
    moment = at or now()
    stored = 0
    with state.sessions() as session:
        adopt_completed_fills(session, moment)
        every = live_series(session, tenant_id)
        done = _done(session, tenant_id, slot) if slot is not None else set()
        for series in every:
            key = (series.tenant_id, series.instance_type, series.region)
            missing = {k for k in KINDS if (key[0], k, key[1], key[2]) not in done}
            if not missing:
                continue
            try:
                predictions = predict_series(session, state, series, moment)
            except SkyRouteError as exc:  # e.g. a type the market no longer knows
                session.rollback()
                state.metrics.live_predictions.labels("failed").inc()
                log.warning("live prediction of %s@%s failed: %s", key[1], key[2], exc)
                continue
            except Exception:  # one tenant's broken model never stops the other series
                session.rollback()
                state.metrics.live_predictions.labels("failed").inc()
                log.exception("live prediction of %s@%s failed", key[1], key[2])
                continue
            rows = _store(
                session, series, [p for p in predictions if p.kind in missing], moment, slot
            )
            spot.publish(state, rows)
            state.metrics.live_predictions.labels("stored").inc(len(rows))
            stored += len(rows)
    return RoundResult(stored=stored, series=len(every))


class LiveScheduler:
    """The thread that runs a round at the start of every slot (one per server process)."""

    def __init__(self, state: AppState, interval_s: float) -> None:
        self.state, self.interval_s = state, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-predictions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            moment = now()
            slot = slot_of(moment, self.interval_s)
            try:
                run_round(self.state, None, moment, slot)
            except Exception:  # the database is away: keep the thread, try at the next slot
                log.exception("live predictions: the round failed")
            next_slot = slot / 1000 + self.interval_s
            self._stop.wait(max(0.0, next_slot - time.time()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)
