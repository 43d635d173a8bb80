"""Decisions and drift alerts forwarded to a central platform through a persisted outbox
(``CENTRAL_PLATFORM_URL``).

The transactional-outbox pattern: each decision's event is inserted in the *same* transaction
as the decision, so an acknowledged decision always has its event (nothing is lost on a crash
or restart), and a failed transaction leaves neither. A sender thread per process then posts
pending events in batches (``{"events": [...]}``, ``Authorization: Bearer
CENTRAL_PLATFORM_API_KEY``) and marks them delivered on a 2xx answer; a failure or timeout
schedules the batch again with exponential backoff. Deciding never waits for the platform.

Delivery is at least once: a crash between the platform's 2xx and the commit that marks the
batch sends it again, so receivers deduplicate on ``event_id`` (the decision's or alert's id),
and tell the two apart by ``kind`` ("decision", "drift_alert"). On
PostgreSQL, workers claim batches with ``FOR UPDATE SKIP LOCKED`` so two never send the same
batch at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.serve.auth import now
from skyroute.serve.metrics import Metrics
from skyroute.serve.settings import Settings
from skyroute.serve.tables import OutboxEvent

log = logging.getLogger(__name__)
DECISION = "decision"
DRIFT_ALERT = "drift_alert"


def decision_events(
    tenant_id: str, rows: Sequence[dict[str, Any]], settings: Settings
) -> list[dict[str, Any]]:
    """Outbox rows (column values) for stored decision rows; none without a central platform."""
    if not settings.central_platform_url:
        return []
    return [
        {
            "event_id": row["id"],
            "tenant_id": tenant_id,
            "kind": DECISION,
            "payload": {
                "event_id": row["id"],
                "kind": DECISION,
                "tenant_id": tenant_id,
                "created_at": row["created_at"].isoformat(),
                "engine": row["engine"],
                "decision": row["response"],
            },
            "created_at": row["created_at"],
            "attempts": 0,
            "next_attempt_at": row["created_at"],
            "delivered_at": None,
            "last_error": None,
        }
        for row in rows
    ]


def alert_event(alert: dict[str, Any], settings: Settings) -> dict[str, Any] | None:
    """The outbox row (column values) for a drift alert (``AlertEvent`` fields, less the
    worker); None without a central platform. Stored in the alert's own transaction."""
    if not settings.central_platform_url:
        return None
    created = datetime.fromisoformat(alert["created_at"])
    payload = {k: v for k, v in alert.items() if k != "worker"}
    return {
        "event_id": alert["id"],
        "tenant_id": alert["tenant_id"],
        "kind": DRIFT_ALERT,
        "payload": {"event_id": alert["id"], **payload, "alert_kind": alert["kind"]}
        | {"kind": DRIFT_ALERT},
        "created_at": created,
        "attempts": 0,
        "next_attempt_at": created,
        "delivered_at": None,
        "last_error": None,
    }


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Wait before attempt ``attempts + 1``: base x 2^(attempts - 1), capped."""
    seconds = settings.central_retry_base_s * 2.0 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.central_retry_max_s))


Post = Callable[[list[dict[str, Any]]], None]


class Sender:
    """Sends pending events; :meth:`send_once` is one batch (tests call it directly)."""

    def __init__(
        self, sessions: Callable[[], Session], settings: Settings, metrics: Metrics, post: Post
    ) -> None:
        self.sessions, self.settings, self.metrics, self.post = sessions, settings, metrics, post

    def send_once(self, at: datetime | None = None) -> int:
        """Post one batch of due events; returns how many were delivered."""
        moment = at or now()
        with self.sessions() as session:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.next_attempt_at <= moment)
                .order_by(OutboxEvent.id)
                .limit(self.settings.central_batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            batch = list(session.scalars(query))
            if not batch:
                return 0
            try:
                self.post([event.payload for event in batch])
            except Exception as exc:  # the platform's or the network's failure: retry later
                for event in batch:
                    event.attempts += 1
                    event.next_attempt_at = moment + backoff(event.attempts, self.settings)
                    event.last_error = f"{type(exc).__name__}: {exc}"[:500]
                session.commit()
                self.metrics.outbox.labels("failed").inc(len(batch))
                return 0
            for event in batch:
                event.attempts += 1
                event.delivered_at = moment
            session.commit()
            self.metrics.outbox.labels("delivered").inc(len(batch))
            return len(batch)


def http_post(settings: Settings) -> Post:
    """POST ``{"events": [...]}`` to the central platform; raises unless it answers 2xx."""
    import httpx

    headers = {}
    if settings.central_platform_api_key:
        headers["Authorization"] = f"Bearer {settings.central_platform_api_key}"
    client = httpx.Client(timeout=5.0, headers=headers)
    url = str(settings.central_platform_url)

    def post(events: list[dict[str, Any]]) -> None:
        client.post(url, json={"events": events}).raise_for_status()

    return post


class BackgroundSender:
    """The sender's thread: sends while events are due, idles ``central_poll_s`` otherwise."""

    def __init__(self, sender: Sender, poll_s: float) -> None:
        self.sender, self.poll_s = sender, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.sender.send_once()
            except Exception:  # the database is away: keep the thread, try again later
                log.exception("outbox: sending failed")
                sent = 0
            if not sent:
                self._stop.wait(self.poll_s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)
