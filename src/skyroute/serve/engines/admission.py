"""Per-tenant admission for engine calls: K in flight, a bounded queue, no waiting on others.

Why: one tenant's hanging engine must not hold anyone else's calls. Each tenant has its own
slots, so its calls only ever wait behind its own; past the queue they are refused at once
(the caller falls back with the reason) instead of piling up in the server's threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Slots:
    in_flight: int = 0
    queued: int = 0


class TenantGates:
    """``enter`` before a call and ``leave`` after it; ``enter`` says why when it refuses."""

    def __init__(self, concurrency: int, queue: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("concurrency must be at least 1 and queue at least 0")
        self.concurrency = concurrency
        self.queue = queue
        self.refused = 0
        self._cond = threading.Condition()
        self._tenants: dict[str, _Slots] = {}
        self._closed = False

    def enter(self, tenant: str, wait: float) -> str | None:
        """Take one of ``tenant``'s slots (queueing up to ``wait`` s), or say why not."""
        deadline = time.monotonic() + wait
        with self._cond:
            slots = self._tenants.setdefault(tenant, _Slots())
            if slots.in_flight < self.concurrency and not self._closed:
                slots.in_flight += 1
                return None
            if slots.queued >= self.queue or self._closed:
                return self._refuse(
                    tenant,
                    f"busy: {slots.in_flight} engine calls of this tenant in flight and "
                    f"{slots.queued} queued",
                )
            slots.queued += 1
            try:
                while slots.in_flight >= self.concurrency and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if slots.in_flight < self.concurrency and not self._closed:
                    slots.in_flight += 1
                    return None
            finally:
                slots.queued -= 1
            return self._refuse(
                tenant,
                f"busy: waited {wait:g} s for one of this tenant's {self.concurrency} engine slots",
            )

    def leave(self, tenant: str) -> None:
        with self._cond:
            slots = self._tenants[tenant]
            slots.in_flight -= 1
            self._forget_if_idle(tenant)
            self._cond.notify_all()

    def in_flight(self) -> int:
        with self._cond:
            return sum(s.in_flight for s in self._tenants.values())

    def close(self) -> None:
        """Refuse every later call and wake the queued ones (they are refused too)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _refuse(self, tenant: str, reason: str) -> str:
        self.refused += 1
        self._forget_if_idle(tenant)
        return reason

    def _forget_if_idle(self, tenant: str) -> None:
        slots = self._tenants.get(tenant)
        if slots is not None and slots.in_flight == 0 and slots.queued == 0:
            del self._tenants[tenant]
