"""Time windows per function and what a router knows at a window's start, as pure NumPy.

The platform router decides once per (function, window) and keeps the decision for every call
of the function in the window, so a function's warm pool is never split between platforms
within a window. These functions cut a time-sorted trace into such windows and measure each
function's history strictly before a moment (nothing at or after it is read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Index = NDArray[np.int64]
#: A function's first window has no previous call; its gap counts as a day.
NO_CALL_GAP_S = 86_400.0


@dataclass(frozen=True)
class Windows:
    """The (function, window) pairs that hold calls, ordered by function then window."""

    function: Index
    #: Window number: the window covers [index x width, (index + 1) x width) seconds.
    index: Index
    start_s: Array
    n_calls: Index
    #: Trace position of each window's first call.
    first_call: Index
    #: For every call of the trace, its window's row.
    row_of_call: Index

    def __len__(self) -> int:
        return int(self.function.shape[0])


def windows_of(function: Index, timestamp_s: Array, width_s: float) -> Windows:
    """Group time-sorted calls into (function, window) rows."""
    index = np.floor(timestamp_s / width_s).astype(np.int64)
    span = int(index.max(initial=0)) + 1
    key = function.astype(np.int64) * span + index
    unique, first, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    window = unique % span
    return Windows(
        function=unique // span,
        index=window,
        start_s=window * float(width_s),
        n_calls=counts.astype(np.int64),
        first_call=first.astype(np.int64),
        row_of_call=inverse.reshape(-1).astype(np.int64),
    )


@dataclass(frozen=True)
class History:
    """A trace's calls sorted by (function, time), for searches by function and moment.

    Searches run within each function's own slice of times: one float key (function x stride
    + time) lost the order of calls a hair apart once the stride made the sum large.
    """

    timestamp_s: Array
    function: Index
    #: Trace position of each sorted call.
    order: Index

    @classmethod
    def of(cls, function: Index, timestamp_s: Array, horizon_s: float) -> History:
        """``horizon_s``: the longest look-back asked for (kept for callers; unused)."""
        order = np.lexsort((timestamp_s, function)).astype(np.int64)
        f, t = function[order].astype(np.int64), timestamp_s[order].astype(np.float64)
        return cls(timestamp_s=t, function=f, order=order)

    def _position(self, function: Index, moment_s: Array) -> Index:
        """Sorted position of the first call of ``function`` at or after ``moment_s``."""
        function = np.asarray(function, dtype=np.int64)
        moment_s = np.broadcast_to(np.asarray(moment_s, dtype=np.float64), function.shape)
        out = np.empty(function.shape, dtype=np.int64)
        queries = np.argsort(function, kind="stable")
        wanted, first = np.unique(function[queries], return_index=True)
        bounds = np.append(first, len(queries))
        for i, f in enumerate(wanted):
            asked = queries[bounds[i] : bounds[i + 1]]
            lo = int(np.searchsorted(self.function, f, side="left"))
            hi = int(np.searchsorted(self.function, f, side="right"))
            found = np.searchsorted(self.timestamp_s[lo:hi], moment_s[asked], side="left")
            out[asked] = lo + found
        return out

    def calls_before(self, function: Index, moment_s: Array, span_s: float) -> Index:
        """Calls of ``function`` in [moment - span, moment)."""
        end = self._position(function, moment_s)
        return (end - self._position(function, moment_s - span_s)).astype(np.int64)

    def previous_call(self, function: Index, moment_s: Array) -> Index:
        """Trace position of the function's latest call before ``moment_s`` (-1: none)."""
        before = self._position(function, moment_s) - 1
        safe = np.maximum(before, 0)
        found = (before >= 0) & (self.function[safe] == function)
        return np.where(found, self.order[safe], -1)

    def gap_before(self, function: Index, moment_s: Array) -> Array:
        """Seconds from the function's latest earlier call to ``moment_s`` (capped at a day)."""
        before = self._position(function, moment_s) - 1
        safe = np.maximum(before, 0)
        found = (before >= 0) & (self.function[safe] == function)
        gap = np.where(found, moment_s - self.timestamp_s[safe], NO_CALL_GAP_S)
        return np.clip(gap, 0.0, NO_CALL_GAP_S)


def gap_variability(function: Index, timestamp_s: Array, history: int) -> Array:
    """Per call: coefficient of variation of the function's last ``history`` inter-arrival gaps
    up to and including this call's (0 with fewer than two gaps; capped at 10)."""
    import pandas as pd

    frame = pd.DataFrame({"f": function, "t": timestamp_s})
    gap = frame.groupby("f")["t"].diff()
    rolling = gap.groupby(frame["f"]).rolling(history, min_periods=2)
    cv = (rolling.std() / rolling.mean()).reset_index(level=0, drop=True).sort_index()
    return np.asarray(cv.fillna(0.0).clip(0.0, 10.0), dtype=np.float64)
