"""One app's live streams: the hub, the Redis fan-out when configured, their health."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from skyroute.serve.live.events import DecisionEvent, LiveEvent, event_of
from skyroute.serve.live.fanout import RedisFanout
from skyroute.serve.live.hub import Hub
from skyroute.serve.metrics import Metrics
from skyroute.serve.settings import Settings

log = logging.getLogger(__name__)


class LiveStreams:
    """Publishes stored events to this process's subscribers and, with Redis, to all."""

    def __init__(self, hub: Hub, worker: str, fanout: RedisFanout | None = None) -> None:
        self.hub = hub
        self.worker = worker
        self.fanout = fanout
        #: The loop the hub lives on, for events stored by threads (set by ``start``).
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def create(cls, settings: Settings, metrics: Metrics) -> LiveStreams:
        # Unique per app (two apps in one process, as in tests, must not take each other's
        # events for their own) and opaque: tenants see it, so it names no host or process.
        worker = uuid.uuid4().hex[:12]
        hub = Hub(settings.live_queue_size, on_drop=metrics.live_dropped.inc)
        fanout = None
        if settings.local_prediction_store == "redis":
            fanout = RedisFanout(
                hub,
                host=settings.redis_host,
                port=settings.redis_port,
                channel=settings.live_channel,
                worker=worker,
                on_error=metrics.live_publish_errors.inc,
            )
        return cls(hub, worker, fanout)

    def publish(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """The stored ``decisions`` rows as events (on the event loop; never waits)."""
        stream = DecisionEvent.STREAM
        if self.fanout is None:
            rows = [row for row in rows if self.hub.wants(stream, str(row["tenant_id"]))]
            if not rows:
                return
        self.publish_events(stream, [event_of(row, self.worker) for row in rows])

    def publish_events(self, stream: str, events: Sequence[LiveEvent]) -> None:
        """Stored ``events`` of ``stream`` to every subscriber (on the event loop)."""
        if not events:
            return
        self.hub.deliver(events)
        if self.fanout is not None:
            self.fanout.forward(stream, events)

    def publish_from_thread(self, stream: str, events: Sequence[LiveEvent]) -> None:
        """``publish_events`` for code that stores from a worker thread (sync routes, jobs);
        never waits. Before ``start`` or after shutdown there is no one to tell."""
        loop = self._loop
        if loop is None or not events:
            return
        try:
            loop.call_soon_threadsafe(self.publish_events, stream, list(events))
        except RuntimeError:  # the loop closed: the server is shutting down
            log.debug("live streams: loop closed, %d %s events not published", len(events), stream)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.fanout is not None:
            await self.fanout.start()

    async def close(self) -> None:
        self._loop = None
        if self.fanout is not None:
            await self.fanout.close()

    def health(self) -> dict[str, Any]:
        """What ``/readyz`` says about the streams (degraded: Redis fails, deciding goes on)."""
        if self.fanout is None:
            return {"backend": "memory", "status": "ok", "subscribers": self.hub.subscribers}
        error = self.fanout.error
        return {
            "backend": "redis",
            "status": "degraded" if error else "ok",
            "reason": error,
            "publish_errors": self.fanout.publish_errors,
            "subscribers": self.hub.subscribers,
        }
