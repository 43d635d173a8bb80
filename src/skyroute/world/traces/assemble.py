"""Turn loader output into a :class:`Trace`: add callers and payloads, sort by time, check."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import TraceError
from skyroute.world.traces.callers import OriginModel, PayloadModel, draw_origins, draw_payloads
from skyroute.world.traces.schema import Trace

#: Independent random streams, so that changing one draw never shifts another.
STREAMS = {"times": 0, "durations": 1, "memory": 2, "origins": 3, "payloads": 4, "rates": 5}


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """The generator of one named stream of a seeded trace."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[stream]]))


def assemble(
    *,
    function: NDArray[np.integer[Any]],
    app: NDArray[np.integer[Any]],
    timestamp_s: NDArray[np.floating[Any]],
    duration_ms: NDArray[np.floating[Any]],
    memory_mb: NDArray[np.floating[Any]],
    function_names: list[str] | NDArray[np.str_],
    app_names: list[str] | NDArray[np.str_],
    seed: int,
    origins: OriginModel,
    payloads: PayloadModel,
    meta: dict[str, Any],
) -> Trace:
    """A time-sorted trace with origins and payloads drawn for every invocation."""
    if function.shape[0] == 0:
        raise TraceError("the trace has no invocations", "give a trace with at least one row")
    function = function.astype(np.int32)
    app = app.astype(np.int32)
    origin, origin_names = draw_origins(app, len(app_names), origins, rng_for(seed, "origins"))
    payload = draw_payloads(function, len(function_names), payloads, rng_for(seed, "payloads"))
    return from_columns(
        function=function,
        app=app,
        timestamp_s=timestamp_s,
        duration_ms=duration_ms,
        memory_mb=memory_mb,
        payload_kb=payload,
        origin=origin,
        function_names=function_names,
        app_names=app_names,
        origin_names=origin_names,
        meta=meta,
    )


def from_columns(
    *,
    function: NDArray[np.integer[Any]],
    app: NDArray[np.integer[Any]],
    timestamp_s: NDArray[np.floating[Any]],
    duration_ms: NDArray[np.floating[Any]],
    memory_mb: NDArray[np.floating[Any]],
    payload_kb: NDArray[np.floating[Any]],
    origin: NDArray[np.integer[Any]],
    function_names: list[str] | NDArray[np.str_],
    app_names: list[str] | NDArray[np.str_],
    origin_names: tuple[str, ...],
    meta: dict[str, Any],
) -> Trace:
    """Sort complete columns by time (stable) and freeze them into a trace."""
    order = np.argsort(timestamp_s, kind="stable")
    trace = Trace(
        function=function.astype(np.int32)[order],
        app=app.astype(np.int32)[order],
        timestamp_s=timestamp_s.astype(np.float64)[order],
        duration_ms=duration_ms.astype(np.float64)[order],
        memory_mb=memory_mb.astype(np.float64)[order],
        payload_kb=payload_kb.astype(np.float64)[order],
        origin=origin.astype(np.int16)[order],
        function_names=np.asarray(function_names, dtype=np.str_),
        app_names=np.asarray(app_names, dtype=np.str_),
        origin_names=tuple(origin_names),
        meta=meta,
    )
    check(trace)
    return trace


def check(trace: Trace) -> None:
    """Fail if a column breaks its contract (see ``schema.COLUMNS``)."""
    rules = {
        "timestamp_s": (trace.timestamp_s, 0.0, "seconds since trace start cannot be negative"),
        "duration_ms": (trace.duration_ms, 1e-9, "durations must be positive"),
        "memory_mb": (trace.memory_mb, 1e-9, "memory footprints must be positive"),
        "payload_kb": (trace.payload_kb, 0.0, "payload sizes cannot be negative"),
    }
    for name, (values, low, why) in rules.items():
        bad = ~np.isfinite(values) | (values < low)
        if bad.any():
            raise TraceError(
                f"column '{name}' has {int(bad.sum())} invalid value(s), e.g. {values[bad][0]}",
                why,
            )
