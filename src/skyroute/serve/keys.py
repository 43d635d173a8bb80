"""API key → tenant, remembered in process for a few seconds.

Every tenant request names its tenant by key, and the decision hot path should not read the
``api_keys`` table each time, so answers (unknown keys included) are cached for ``ttl``
seconds (``SKYROUTE_KEY_CACHE_SECONDS``, default 2; 0 turns the cache off). The price: a key
revoked in the database keeps working in each server process for at most ``ttl`` seconds.
The cache is bounded (least recently used entries go first), so a flood of made-up keys
costs memory only up to ``max_entries``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from skyroute.serve.auth import hash_key
from skyroute.serve.tables import ApiKey


class Cached(NamedTuple):
    """A looked-up key: its tenant (None when unknown or revoked) and when to look again."""

    tenant_id: str | None
    expires: float


class TenantKeys:
    """The tenant of an API key, from a short-lived cache or the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, Cached] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key_hash: str) -> Cached | None:
        """The cached answer for ``key_hash`` if it is still fresh (never touches the database)."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                del self._entries[key_hash]
                return None
            self._entries.move_to_end(key_hash)
            return entry

    def load(self, key_hash: str) -> str | None:
        """Read ``key_hash`` from the database and remember the answer (blocking I/O)."""
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey.tenant_id, ApiKey.revoked).where(ApiKey.key_hash == key_hash)
            ).first()
        tenant_id = None if row is None or row.revoked else str(row.tenant_id)
        if self._ttl > 0:
            with self._lock:
                self._entries[key_hash] = Cached(tenant_id, self._clock() + self._ttl)
                self._entries.move_to_end(key_hash)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return tenant_id

    def tenant_of(self, key: str) -> str | None:
        """The tenant of ``key``, or None when no live key matches."""
        key_hash = hash_key(key)
        cached = self.peek(key_hash)
        return cached.tenant_id if cached is not None else self.load(key_hash)

    def forget(self) -> None:
        """Drop every cached answer (tests, or an operator who revoked keys just now)."""
        with self._lock:
            self._entries.clear()
