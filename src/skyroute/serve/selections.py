"""Each tenant's engine selection, remembered in process for a moment.

Every decision needs the tenant's selected engine and config; reading the
``engine_selections`` row each time was one query per decision. The answer (including "no
selection") is kept for ``ttl`` seconds and dropped at once when this process changes it
(``/engines/select``), so a tenant sees its own selection immediately on the worker that took
it and within ``ttl`` seconds on the others. The cache is bounded: the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Selection:
    """A tenant's placement engine and its config, as stored."""

    engine_id: str
    config: dict[str, Any]


class _Entry(NamedTuple):
    selection: Selection | None
    expires: float


class SelectionCache:
    """Tenant id → its :class:`Selection` (or None when it selected nothing), briefly cached."""

    def __init__(
        self,
        ttl: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, tenant_id: str) -> _Entry | None:
        """The fresh cached entry, or None when it must be loaded (never touches the database)."""
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is None or entry.expires <= self._clock():
                return None
            return entry

    def get(self, tenant_id: str, load: Callable[[], Selection | None]) -> Selection | None:
        """The tenant's selection, from the cache or from ``load`` (remembered for ``ttl``)."""
        entry = self.peek(tenant_id)
        if entry is not None:
            return entry.selection
        selection = load()
        if self._ttl > 0:
            with self._lock:
                self._entries[tenant_id] = _Entry(selection, self._clock() + self._ttl)
                self._entries.move_to_end(tenant_id)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return selection

    def forget(self, tenant_id: str) -> None:
        """Drop the tenant's entry (its selection just changed in this process)."""
        with self._lock:
            self._entries.pop(tenant_id, None)
