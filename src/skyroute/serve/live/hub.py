"""In-process fan-out: each subscriber has a bounded queue, and publishing never waits.

One hub serves every stream: subscribers are kept per (stream, tenant), and an event reaches
the subscribers of its own stream and tenant whose filters it passes. A subscriber that does
not keep up (its queue is full) is dropped, not waited for: deciding, predicting and the other
subscribers go on at full speed, and the stream closes the dropped one's socket with 1013
("try again later") so that it can reconnect with a resume cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from skyroute.serve.live.events import EventFilter, LiveEvent


class Subscriber:
    """One open stream: its tenant, its filters (which name the stream) and its queue."""

    def __init__(self, tenant_id: str, filters: EventFilter, queue_size: int) -> None:
        self.tenant_id = tenant_id
        self.filters = filters
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=queue_size)
        #: Set when the hub gave up on this subscriber (its queue was full).
        self.dropped = asyncio.Event()

    @property
    def key(self) -> tuple[str, str]:
        return self.filters.STREAM, self.tenant_id

    def offer(self, event: LiveEvent) -> bool:
        """Queue ``event`` unless the queue is full (then the subscriber is dropped)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True


class Hub:
    """This process's subscribers by stream and tenant; call it on the event loop only."""

    def __init__(self, queue_size: int, on_drop: Callable[[], None] = lambda: None) -> None:
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._by_key: dict[tuple[str, str], set[Subscriber]] = {}

    def subscribe(self, tenant_id: str, filters: EventFilter) -> Subscriber:
        """A subscriber of ``tenant_id`` on the stream ``filters`` belong to."""
        subscriber = Subscriber(tenant_id, filters, self._queue_size)
        self._by_key.setdefault(subscriber.key, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._by_key.get(subscriber.key)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_key[subscriber.key]

    def wants(self, stream: str, tenant_id: str) -> bool:
        """Whether anyone here listens to ``tenant_id`` on ``stream`` (else skip building)."""
        return (stream, tenant_id) in self._by_key

    def deliver(self, events: Iterable[LiveEvent]) -> None:
        """Queue each event for its stream's and tenant's matching subscribers; never blocks."""
        for event in events:
            for subscriber in tuple(self._by_key.get((event.STREAM, event.tenant_id), ())):
                if subscriber.filters.matches(event) and not subscriber.offer(event):
                    self.unsubscribe(subscriber)
                    self._on_drop()

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_key.values())
