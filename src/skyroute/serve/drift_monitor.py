"""Runs the drift check off the request path and stores, counts, streams and forwards alerts.

Deciding and posting actuals only *notify* the monitor (a set insert and an event, never a
query); its thread checks each notified tenant at most every ``DRIFT_CHECK_INTERVAL_SECONDS``
(``serve/drift.py``: one query per group and window). Any worker may check any tenant: an
alert is inserted in its own transaction, and the unique constraint on (tenant, kind, engine,
model version, feature, window) lets exactly one worker store it; only that worker then counts
it (``skyroute_drift_alerts_total{kind}``), streams it (``/api/v1/ml/alerts/live``, which fans
out to the other workers) and -- in the same transaction as the alert -- queues it for the
central platform (outbox kind ``drift_alert``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from skyroute.serve import drift
from skyroute.serve.auth import now
from skyroute.serve.drift_stats import FeatureDrift, Thresholds
from skyroute.serve.live.events import AlertEvent, alert_event_of, utc
from skyroute.serve.metrics import Metrics
from skyroute.serve.outbox import alert_event
from skyroute.serve.settings import Settings
from skyroute.serve.tables import DriftAlert, OutboxEvent

if TYPE_CHECKING:
    from skyroute.serve.live.streams import LiveStreams

log = logging.getLogger(__name__)


def message_of(result: drift.Result, kind: str, feature: FeatureDrift, limits: Thresholds) -> str:
    """What an alert says, in words a person on call can act on."""
    group = result.group
    model = f"{group.model_id}@{group.model_version}" if group.kind is not None else "no model"
    what = (
        f"input {feature.feature} of {model} ({group.engine})"
        if kind == drift.INPUT
        else f"{feature.feature} of {model} ({group.engine})"
    )
    against = (
        "the bundle's training reference"
        if kind == drift.INPUT
        else "the earlier actuals of the same model version and engine"
    )
    units = "decisions" if kind == drift.INPUT else "actuals"
    return (
        f"{what} drifted over the last {feature.n} {units} against {against}: "
        f"PSI {feature.psi:.3f} > {limits.psi:g} and KS p-value {feature.p_value:.2g} "
        f"< {limits.p_value:g}"
    )


class DriftMonitor:
    """The process's drift checker; :meth:`check` runs one tenant now (tests call it)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        settings: Settings,
        metrics: Metrics,
        live: LiveStreams | None = None,
    ) -> None:
        self.sessions, self.settings, self.metrics, self.live = sessions, settings, metrics, live
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self, tenant_id: str) -> None:
        """The tenant stored decisions or actuals: check it soon (never waits)."""
        if tenant_id in self._pending:  # already due (a racy read: at worst one more lock)
            return
        with self._lock:
            self._pending.add(tenant_id)
        self._wake.set()

    def check(self, tenant_id: str) -> list[DriftAlert]:
        """Check ``tenant_id`` now; the alerts this call stored (not those stored before)."""
        with self.sessions() as session:
            results = drift.check(session, tenant_id, self.settings)
        fresh = self._candidates(tenant_id, results)
        stored = [alert for alert in fresh if self._store(alert)]
        for alert in stored:
            self.metrics.drift_alerts.labels(alert.kind).inc()
        if stored and self.live is not None:
            events = [alert_event_of(alert, self.live.worker) for alert in stored]
            self.live.publish_from_thread(AlertEvent.STREAM, events)
        return stored

    def _candidates(self, tenant_id: str, results: list[drift.Result]) -> list[DriftAlert]:
        """The alerts of ``results`` due now: a feature's first, or one whose whole window
        came after the last alerted one (one query for those, a bounded count per drift)."""
        drifted = [(r, kind, f, first, last) for r in results for kind, f, first, last in r.drifted]
        if not drifted:
            return []
        limits = drift.thresholds(self.settings)
        size = self.settings.drift_window_size
        moment = now()
        alerts = []
        with self.sessions() as session:
            previous = _latest_alerts(session, tenant_id)
            for result, kind, feature, first, last in drifted:
                group = result.group
                key = (kind, group.engine, group.model_id, group.model_version, feature.feature)
                window, last_at = previous.get(key, (0, None))
                if last_at is not None and (
                    drift.newer_than(session, tenant_id, group, kind, utc(last_at), size) < size
                ):
                    continue  # still the run of decisions the last alert covered
                alerts.append(
                    DriftAlert(
                        id=str(uuid.uuid4()), tenant_id=tenant_id, created_at=moment, kind=kind,
                        engine=group.engine, model_id=group.model_id,
                        model_version=group.model_version, feature=feature.feature,
                        window_index=window + 1, psi=feature.psi, p_value=feature.p_value,
                        threshold=limits.psi, n=feature.n, window_first_at=first,
                        window_last_at=last, message=message_of(result, kind, feature, limits),
                    )
                )  # fmt: skip
        return alerts

    def _store(self, alert: DriftAlert) -> bool:
        """Insert ``alert`` (and its outbox event); False when another worker stored it."""
        event = alert_event(_as_dict(alert), self.settings)
        with self.sessions() as session:
            session.add(alert)
            if event is not None:
                session.add(OutboxEvent(**event))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="drift-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.settings.drift_check_interval_s
        while not self._stop.is_set():
            self._wake.wait()
            started = time.monotonic()
            with self._lock:
                tenants, self._pending = sorted(self._pending), set()
                self._wake.clear()
            for tenant_id in tenants:
                if self._stop.is_set():
                    return
                try:
                    self.check(tenant_id)
                except Exception:  # the database is away: the next notification retries
                    log.exception("drift: checking tenant %s failed", tenant_id)
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None


def _latest_alerts(
    session: Session, tenant_id: str
) -> dict[tuple[str, str, str, str, str], tuple[int, datetime]]:
    """Per (kind, engine, model id, version, feature): its last window number and end."""
    rows = session.execute(
        select(
            DriftAlert.kind, DriftAlert.engine, DriftAlert.model_id, DriftAlert.model_version,
            DriftAlert.feature, func.max(DriftAlert.window_index),
            func.max(DriftAlert.window_last_at),
        )
        .where(DriftAlert.tenant_id == tenant_id)
        .group_by(
            DriftAlert.kind, DriftAlert.engine, DriftAlert.model_id, DriftAlert.model_version,
            DriftAlert.feature,
        )
    ).all()  # fmt: skip
    return {(r[0], r[1], r[2], r[3], r[4]): (int(r[5]), r[6]) for r in rows}


def _as_dict(alert: DriftAlert) -> dict[str, object]:
    event = alert_event_of(alert, None)
    return {k: v for k, v in event.__dict__.items() if k != "worker"}
