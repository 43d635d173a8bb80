"""Fan-out between processes through Redis pub/sub (``LOCAL_PREDICTION_STORE=redis``).

Every process publishes its events, of every stream, on one channel and listens to it (a
message names its stream); it delivers what the
others published to its own subscribers (its own events it delivered already, so a Redis that
is down costs only the other processes' events). Publishing goes through a bounded outbox
drained by one task: a decision never waits for Redis. Errors are caught, counted and kept as
the reason ``/readyz`` reports the streams as degraded; both tasks retry on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from skyroute.serve.live.events import EVENT_TYPES, LiveEvent
from skyroute.serve.live.hub import Hub

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

#: Messages waiting for Redis at most; past that they are dropped and counted.
OUTBOX_SIZE = 10_000
#: After a failure, how long publishing skips Redis (counting errors) before it tries again.
RETRY_AFTER_S = 1.0


class RedisFanout:
    """Publishes this process's events and delivers the other processes' to ``hub``."""

    def __init__(
        self,
        hub: Hub,
        *,
        host: str,
        port: int,
        channel: str,
        worker: str,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self._hub = hub
        self._host = host
        self._port = port
        self._channel = channel
        self._worker = worker
        self._on_error = on_error
        self._client: Redis | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failed_at = 0.0
        self._publish_error: str | None = None
        self._listen_error: str | None = "not started"
        self.publish_errors = 0

    async def start(self) -> None:
        from redis.asyncio import Redis

        self._client = Redis(
            host=self._host, port=self._port, socket_connect_timeout=1.0, socket_timeout=5.0
        )
        self._outbox = asyncio.Queue(maxsize=OUTBOX_SIZE)
        self._listen_error = "connecting to Redis"
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="skyroute-live-publish"),
            asyncio.create_task(self._listen_loop(), name="skyroute-live-listen"),
        ]

    def forward(self, stream: str, events: Sequence[LiveEvent]) -> None:
        """Queue ``events`` of ``stream`` for the other processes (never waits; a full outbox
        counts)."""
        if self._outbox is None:
            return
        message = orjson.dumps(
            {
                "worker": self._worker,
                "stream": stream,
                "events": [orjson.Fragment(event.to_json()) for event in events],
            }
        )
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self._failed("the Redis outbox is full")

    async def _publish_loop(self) -> None:
        assert self._client is not None and self._outbox is not None
        while True:
            message = await self._outbox.get()
            if time.monotonic() - self._failed_at < RETRY_AFTER_S:
                self._failed(self._publish_error or "Redis failed")
                continue
            try:
                await self._client.publish(self._channel, message)
                self._publish_error = None
            except Exception as exc:  # Redis down or slow: deciding goes on, the error counts
                self._failed(f"publishing to Redis failed: {type(exc).__name__}: {exc}")

    async def _listen_loop(self) -> None:
        assert self._client is not None
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._listen_error = None
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listen_error = f"listening on Redis failed: {type(exc).__name__}: {exc}"
                log.warning("live streams: %s; retrying", self._listen_error)
                await asyncio.sleep(RETRY_AFTER_S)

    @property
    def error(self) -> str | None:
        """Why the fan-out is degraded, or None while Redis works."""
        return self._listen_error or self._publish_error

    def _receive(self, data: bytes) -> None:
        body: dict[str, Any] = orjson.loads(data)
        if body.get("worker") == self._worker:
            return  # delivered locally when it was published
        event_type = EVENT_TYPES.get(body.get("stream", "decisions"))
        if event_type is None:
            return  # a stream a newer process knows and this one does not
        self._hub.deliver(event_type.from_dict(event) for event in body["events"])

    def _failed(self, reason: str) -> None:
        self._failed_at = time.monotonic()
        self._publish_error = reason
        self.publish_errors += 1
        self._on_error()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
