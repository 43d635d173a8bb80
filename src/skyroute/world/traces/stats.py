"""Summary statistics of a trace: the figures the synthetic generator is calibrated against."""

from __future__ import annotations

import numpy as np

from skyroute.world.traces.schema import Trace


def summarise(trace: Trace) -> dict[str, float | int | str]:
    """Counts, popularity, duration, memory, payload and diurnal figures of ``trace``."""
    days = max(trace.duration_hours / 24.0, 1.0 / 24.0)
    per_function = np.bincount(trace.function, minlength=trace.n_functions)
    invoked = per_function[per_function > 0]
    log10_daily = np.log10(invoked / days)
    hours = (trace.timestamp_s // 3600).astype(np.int64)
    hourly = np.bincount(hours)
    hourly = hourly[: max(1, int(days * 24))]
    return {
        "invocations": len(trace),
        "functions": trace.n_functions,
        "functions_invoked": int(invoked.shape[0]),
        "apps": int(trace.app_names.shape[0]),
        "hours": round(trace.duration_hours, 2),
        "start": trace.start,
        "log10_daily_invocations_mean": round(float(log10_daily.mean()), 3),
        "log10_daily_invocations_sd": round(float(log10_daily.std()), 3),
        "duration_ms_p50": round(float(np.median(trace.duration_ms)), 2),
        "duration_ms_p95": round(float(np.percentile(trace.duration_ms, 95)), 2),
        "memory_mb_p50": round(float(np.median(trace.memory_mb)), 1),
        "memory_mb_p95": round(float(np.percentile(trace.memory_mb, 95)), 1),
        "payload_kb_p50": round(float(np.median(trace.payload_kb)), 2),
        "hourly_min_over_mean": round(float(hourly.min() / hourly.mean()), 3),
        "hourly_max_over_mean": round(float(hourly.max() / hourly.mean()), 3),
        "origins": len(trace.origin_names),
    }
