"""Greedy answers remembered per distinct request and hour (a decision becomes a lookup).

Greedy is a pure function of the request's content (function profile, objective, constraints),
the hour of the year and the server's world, so a function that asks again within the hour gets
the same placement, explanation and expected outcome: only the decision id and the stored row
are new. Most callers ask about the same functions over and over, so after the first request
of each function and hour, a decision costs a dictionary lookup instead of the physics over
every placement. Bounded: the least recently used entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

Value = TypeVar("Value")


@dataclass(frozen=True)
class MemoKey:
    """What a greedy answer depends on: the engine's version, the hour, the request's content."""

    engine_version: str
    hour: int
    request_json: str


class Memo(Generic[Value]):
    """A bounded, thread-safe least-recently-used map."""

    def __init__(self, max_entries: int = 8_192) -> None:
        self._max = max_entries
        self._entries: OrderedDict[MemoKey, Value] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: MemoKey) -> Value | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return value

    def put(self, key: MemoKey, value: Value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
