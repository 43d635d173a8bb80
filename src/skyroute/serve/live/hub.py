"""In-process fan-out: each subscriber has a bounded queue, and publishing never waits.

A subscriber that does not keep up (its queue is full) is dropped, not waited for: deciding
and the other subscribers go on at full speed, and the stream closes the dropped one's socket
with 1013 ("try again later") so that it can reconnect with a resume cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from skyroute.serve.live.events import DecisionEvent, Filters


class Subscriber:
    """One open stream: its tenant, its filters and the events waiting to be sent."""

    def __init__(self, tenant_id: str, filters: Filters, queue_size: int) -> None:
        self.tenant_id = tenant_id
        self.filters = filters
        self.queue: asyncio.Queue[DecisionEvent] = asyncio.Queue(maxsize=queue_size)
        #: Set when the hub gave up on this subscriber (its queue was full).
        self.dropped = asyncio.Event()

    def offer(self, event: DecisionEvent) -> bool:
        """Queue ``event`` unless the queue is full (then the subscriber is dropped)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True


class Hub:
    """This process's subscribers by tenant; call it on the event loop only."""

    def __init__(self, queue_size: int, on_drop: Callable[[], None] = lambda: None) -> None:
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._by_tenant: dict[str, set[Subscriber]] = {}

    def subscribe(self, tenant_id: str, filters: Filters) -> Subscriber:
        subscriber = Subscriber(tenant_id, filters, self._queue_size)
        self._by_tenant.setdefault(tenant_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._by_tenant.get(subscriber.tenant_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_tenant[subscriber.tenant_id]

    def wants(self, tenant_id: str) -> bool:
        """Whether anyone here listens to ``tenant_id`` (building events costs otherwise)."""
        return tenant_id in self._by_tenant

    def deliver(self, events: Iterable[DecisionEvent]) -> None:
        """Queue each event for its tenant's matching subscribers; never blocks."""
        for event in events:
            for subscriber in tuple(self._by_tenant.get(event.tenant_id, ())):
                if subscriber.filters.matches(event) and not subscriber.offer(event):
                    self.unsubscribe(subscriber)
                    self._on_drop()

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_tenant.values())
