"""A synthetic trace generator calibrated to the published Azure Functions statistics.

Every constant below was fitted to the shipped one-day, 1,000-function Azure 2019 sample
(``skyroute trace info`` prints these figures for any trace; docs/traces.md compares the
sample with a generated trace) and agrees with what Shahrad et al. (ATC
2020) report for the full trace: popularity spans many orders of magnitude, most functions run
for well under a few seconds, and most apps stay below ~400 MB.

* **Popularity.** log10(invocations per day) of a function ~ Normal(1.63, 1.11), clipped to
  [0, 5] (sample: mean 1.63, sd 1.11, max 86,399/day).
* **Diurnal load.** The per-minute rate is scaled by ``1 + 0.2 cos(2π (h − 18.5) / 24)``
  with h the UTC hour (sample: hourly totals 0.82–1.36 of the mean, peak at 18–19 h).
* **Durations.** A function's median duration (ms) is log-normal with log-mean 5.83 and
  log-sd 2.71 (median 341 ms), clipped to [1 ms, 10 min]; single invocations vary around it
  log-normally with sd 0.30 (sample: median (ln p75 − ln p25) / 1.349 = 0.30).
* **Memory.** An app's median footprint (MB) is log-normal with log-mean 5.02, log-sd 0.30
  (median 151 MB); invocations vary with log-sd 0.05 (sample: 0.046).
* **Apps.** Functions are grouped into apps of 1–3 functions (geometric, mean ~1.4); the 2019
  sample has one function per app, the full trace several.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import TraceError
from skyroute.world.traces.assemble import assemble, rng_for
from skyroute.world.traces.callers import OriginModel, PayloadModel
from skyroute.world.traces.schema import Trace

LOG10_DAILY_MEAN, LOG10_DAILY_SD, LOG10_DAILY_MAX = 1.63, 1.11, 5.0
DIURNAL_AMPLITUDE, DIURNAL_PEAK_HOUR = 0.2, 18.5
LOG_DURATION_MEAN, LOG_DURATION_SD, DURATION_WITHIN_SD = 5.83, 2.71, 0.30
MAX_DURATION_MS = 600_000.0
LOG_MEMORY_MEAN, LOG_MEMORY_SD, MEMORY_WITHIN_SD = 5.02, 0.30, 0.05
APP_SIZE_P = 0.7
MAX_FUNCTIONS, MAX_DAYS = 100_000, 28


def diurnal_factor(minute: NDArray[np.int64]) -> NDArray[np.float64]:
    """Relative load in each minute of the day (mean 1 over a whole day)."""
    hour = (minute % 1440) / 60.0
    return 1.0 + DIURNAL_AMPLITUDE * np.cos(2.0 * np.pi * (hour - DIURNAL_PEAK_HOUR) / 24.0)


def draw_memory(
    app: NDArray[np.integer], n_apps: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Memory footprint (MB) per invocation from the calibrated per-app model."""
    typical = LOG_MEMORY_MEAN + LOG_MEMORY_SD * rng.standard_normal(n_apps)
    jitter = MEMORY_WITHIN_SD * rng.standard_normal(app.shape[0])
    memory: NDArray[np.float64] = np.round(np.exp(typical[app] + jitter), 1)
    return memory


def generate(
    functions: int,
    days: int,
    seed: int,
    *,
    origins: OriginModel,
    payloads: PayloadModel,
    label: str,
) -> Trace:
    """A seeded synthetic trace of ``functions`` functions over ``days`` days."""
    if not 1 <= functions <= MAX_FUNCTIONS or not 1 <= days <= MAX_DAYS:
        raise TraceError(
            f"synthetic trace with functions={functions}, days={days} is out of range",
            f"use 1 <= functions <= {MAX_FUNCTIONS} and 1 <= days <= {MAX_DAYS}",
        )
    rates = rng_for(seed, "rates")
    log10_daily = np.clip(
        LOG10_DAILY_MEAN + LOG10_DAILY_SD * rates.standard_normal(functions), 0.0, LOG10_DAILY_MAX
    )
    per_minute = 10.0**log10_daily / 1440.0
    minutes = np.arange(days * 1440)
    expected = per_minute[:, None] * diurnal_factor(minutes)[None, :]
    counts = rates.poisson(expected)
    if counts.sum() == 0:
        raise TraceError("the synthetic trace came out empty", "use more functions or days")
    function = np.repeat(np.repeat(np.arange(functions), minutes.shape[0]), counts.ravel())
    minute = np.repeat(np.tile(minutes, functions), counts.ravel())
    timestamp = (minute + rng_for(seed, "times").random(minute.shape[0])) * 60.0

    sizes = rates.geometric(APP_SIZE_P, size=functions)
    app_of_function = np.repeat(np.arange(functions), sizes)[:functions]
    n_apps = int(app_of_function[-1]) + 1

    durations = rng_for(seed, "durations")
    typical = np.clip(
        LOG_DURATION_MEAN + LOG_DURATION_SD * durations.standard_normal(functions),
        0.0,
        np.log(MAX_DURATION_MS),
    )
    jitter = DURATION_WITHIN_SD * durations.standard_normal(function.shape[0])
    duration = np.clip(np.exp(typical[function] + jitter), 1.0, MAX_DURATION_MS)
    app = app_of_function[function]
    memory = draw_memory(app, n_apps, rng_for(seed, "memory"))
    return assemble(
        function=function,
        app=app,
        timestamp_s=timestamp,
        duration_ms=np.round(duration, 3),
        memory_mb=memory,
        function_names=[f"fn-{i:05d}" for i in range(functions)],
        app_names=[f"app-{i:05d}" for i in range(n_apps)],
        seed=seed,
        origins=origins,
        payloads=payloads,
        meta={
            "source": label,
            "format": "synthetic",
            "functions": functions,
            "days": days,
            "seed": seed,
            "calibration": "Azure Functions 2019 sample (see docs/traces.md)",
        },
    )
