"""The one in-memory invocation schema every trace loader produces.

Columnar NumPy arrays (one row per invocation, sorted by time) so the simulator can work on
whole traces at once; string ids are stored once and referenced by integer codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Columns of our own CSV/Parquet format, in order, with their units.
COLUMNS: dict[str, str] = {
    "function_id": "string id of the function",
    "app_id": "string id of the application the function belongs to",
    "timestamp_s": "seconds since trace start (float, >= 0)",
    "duration_ms": "execution time at the reference CPU share, milliseconds (> 0)",
    "memory_mb": "memory footprint of the invocation, MB (> 0)",
    "payload_kb": "request payload size, KB (>= 0)",
    "origin": "caller's origin as '<provider>:<region>', e.g. 'aws:us-east-1'",
}


@dataclass(frozen=True)
class Trace:
    """A replayable sequence of invocations.

    ``function`` / ``app`` / ``origin`` are integer codes into ``function_names`` /
    ``app_names`` / ``origin_names``. ``start`` is the wall-clock time (ISO-8601 UTC) that
    ``timestamp_s == 0`` stands for; carbon intensity is looked up at that hour.
    """

    function: NDArray[np.int32]
    app: NDArray[np.int32]
    timestamp_s: NDArray[np.float64]
    duration_ms: NDArray[np.float64]
    memory_mb: NDArray[np.float64]
    payload_kb: NDArray[np.float64]
    origin: NDArray[np.int16]
    function_names: NDArray[np.str_]
    app_names: NDArray[np.str_]
    origin_names: tuple[str, ...]
    start: str = "2022-07-12T00:00:00Z"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.timestamp_s.shape[0])

    @property
    def n_functions(self) -> int:
        return int(self.function_names.shape[0])

    @property
    def duration_hours(self) -> float:
        return float(self.timestamp_s[-1] / 3600.0) if len(self) else 0.0


def time_slice(trace: Trace, start_s: float, stop_s: float) -> Trace:
    """The invocations with ``start_s <= timestamp_s < stop_s`` (names and start kept)."""
    keep = (trace.timestamp_s >= start_s) & (trace.timestamp_s < stop_s)
    return _rows(trace, keep, {"slice_s": [start_s, stop_s]})


def function_slice(trace: Trace, keep: NDArray[np.bool_]) -> Trace:
    """The invocations of the functions with ``keep[code]`` true (names and clock kept)."""
    return _rows(trace, keep[trace.function], {"functions_kept": int(keep.sum())})


def _rows(trace: Trace, rows: NDArray[np.bool_], meta: dict[str, Any]) -> Trace:
    """The invocations where ``rows`` is true, with ``meta`` added to the trace's."""
    from dataclasses import replace

    return replace(
        trace,
        function=trace.function[rows],
        app=trace.app[rows],
        timestamp_s=trace.timestamp_s[rows],
        duration_ms=trace.duration_ms[rows],
        memory_mb=trace.memory_mb[rows],
        payload_kb=trace.payload_kb[rows],
        origin=trace.origin[rows],
        meta={**trace.meta, **meta},
    )
