"""Batches of placement requests: what a caller knows when it asks where to run.

The simulator builds them from a trace (the function's profile: mean duration, footprint,
rate) and the server will build them from API calls; policies only ever see this shape. A
hindsight policy (the oracle) additionally receives :class:`Hindsight`, which only the
simulator can fill because it holds the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyroute.world.model import World
from skyroute.world.physics import Array, Invocations
from skyroute.world.traces.schema import Trace

HOURS_PER_YEAR = 8760
#: A function's footprint profile is this quantile of its observed footprints.
FOOTPRINT_QUANTILE = 0.95


@dataclass(frozen=True)
class Requests:
    """One row per request. ``expected`` holds the caller's profile, not the future."""

    function: NDArray[np.int64]
    timestamp_s: Array
    expected: Invocations
    rate_per_min: Array

    def __len__(self) -> int:
        return int(self.function.shape[0])

    @property
    def expected_idle_s(self) -> Array:
        """Mean time between calls of the same function (how long a warm instance idles)."""
        return 60.0 / np.maximum(self.rate_per_min, 1e-9)


@dataclass(frozen=True)
class Hindsight:
    """The future, for the oracle only: actual values and the simulator's random draws."""

    actual: Invocations
    cold_u: Array
    cold_z: Array
    spot_u: Array
    #: Seconds since the same function's previous call anywhere (NaN for its first call).
    function_idle_s: Array
    #: The trace's function ids and start times (pool gaps for every candidate placement).
    function: NDArray[np.int64]
    timestamp_s: Array


def start_hour_of_year(start: str) -> int:
    """Hour of the (non-leap) year of an ISO-8601 UTC timestamp."""
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    day = min(moment.timetuple().tm_yday, 365)
    return (day - 1) * 24 + moment.hour


def hour_index(trace: Trace) -> NDArray[np.int64]:
    """Hour of the year of each invocation (indexes the carbon table)."""
    start = start_hour_of_year(trace.start)
    return ((start + np.floor(trace.timestamp_s / 3600.0)).astype(np.int64)) % HOURS_PER_YEAR


def actual_invocations(trace: Trace, world: World) -> Invocations:
    """What really happened, in the physics' terms; origins mapped into ``world``."""
    origin_map = world.origin_index(list(trace.origin_names))
    return Invocations(
        duration_ms=trace.duration_ms.astype(np.float64),
        memory_mb=trace.memory_mb.astype(np.float64),
        payload_kb=trace.payload_kb.astype(np.float64),
        origin=origin_map[trace.origin],
        hour=hour_index(trace),
    )


def requests_from_trace(trace: Trace, world: World) -> Requests:
    """Requests carrying each function's profile: mean duration and payload, p95 footprint, rate."""
    fn = trace.function.astype(np.int64)
    n_fn = trace.n_functions
    counts = np.bincount(fn, minlength=n_fn).astype(np.float64)
    mean_duration = np.bincount(fn, weights=trace.duration_ms, minlength=n_fn) / np.maximum(
        counts, 1
    )
    footprint = _group_quantile(fn, trace.memory_mb.astype(np.float64), n_fn, FOOTPRINT_QUANTILE)
    span_min = max(trace.duration_hours * 60.0, 1.0)
    actual = actual_invocations(trace, world)
    mean_payload = np.bincount(fn, weights=trace.payload_kb, minlength=n_fn) / np.maximum(counts, 1)
    expected = actual._replace(
        duration_ms=mean_duration[fn], memory_mb=footprint[fn], payload_kb=mean_payload[fn]
    )
    return Requests(
        function=fn,
        timestamp_s=trace.timestamp_s.astype(np.float64),
        expected=expected,
        rate_per_min=(counts / span_min)[fn],
    )


def _group_quantile(group: NDArray[np.int64], values: Array, n: int, q: float) -> Array:
    """The ``q`` quantile of ``values`` within each group (vectorised via one sort)."""
    order = np.lexsort((values, group))
    sorted_groups, sorted_values = group[order], values[order]
    starts = np.searchsorted(sorted_groups, np.arange(n), side="left")
    ends = np.searchsorted(sorted_groups, np.arange(n), side="right")
    sizes = np.maximum(ends - starts, 1)
    pick = starts + np.minimum((q * (sizes - 1)).round().astype(np.int64), sizes - 1)
    out = np.zeros(n)
    present = ends > starts
    out[present] = sorted_values[pick[present]]
    return out


def idle_seconds(key: NDArray[np.int64], timestamp_s: Array) -> Array:
    """Seconds since the previous call with the same key (NaN for the first); input time-sorted."""
    order = np.argsort(key, kind="stable")
    k, t = key[order], timestamp_s[order]
    gaps = np.empty_like(t)
    gaps[0] = np.nan
    gaps[1:] = np.where(k[1:] == k[:-1], t[1:] - t[:-1], np.nan)
    out = np.empty_like(gaps)
    out[order] = gaps
    return out


def unique_rows(requests: Requests) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices of one representative per distinct request profile, and each row's group.

    Many requests share a profile (same function, caller and hour); deciding once per profile
    and broadcasting back is what makes model-based policies fast on large traces.
    """
    e = requests.expected
    columns = (requests.rate_per_min, e.hour, e.origin, e.payload_kb, e.memory_mb, e.duration_ms)
    order = np.lexsort(columns)
    stacked = np.stack([np.asarray(c, dtype=np.float64)[order] for c in columns])
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (stacked[:, 1:] != stacked[:, :-1]).any(axis=0)
    group_sorted = np.cumsum(new_group) - 1
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = group_sorted
    return order[new_group], inverse


def take_requests(requests: Requests, index: NDArray[np.int64]) -> Requests:
    """The requests at ``index``."""
    return Requests(
        function=requests.function[index],
        timestamp_s=requests.timestamp_s[index],
        expected=Invocations._make(a[index] for a in requests.expected),
        rate_per_min=requests.rate_per_min[index],
    )
