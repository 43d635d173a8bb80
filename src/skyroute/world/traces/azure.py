"""Loaders for the Azure Functions traces (Shahrad et al., ATC 2020; Zhang et al., SOSP 2021).

The 2019 trace gives per-minute invocation counts per function, and per function (durations)
or per app (memory) a handful of percentiles. We expand it into single invocations:

* each count in minute ``m`` becomes that many invocations at seeded uniform times inside the
  minute;
* each invocation's duration (and memory) is an inverse-CDF draw: a uniform number is mapped
  through the piecewise-linear CDF that passes through the function's published percentiles.
  Durations are floored at 1 ms (the trace rounds very short runs down to 0 ms).

The 2021 trace lists single invocations (app, func, end_timestamp [s], duration [s]); it has
no memory, so memory comes from the synthetic model calibrated on the 2019 data.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.errors import TraceError
from skyroute.world.traces.assemble import assemble, rng_for
from skyroute.world.traces.callers import OriginModel, PayloadModel
from skyroute.world.traces.schema import Trace

CITATION = (
    "Azure Functions traces, CC BY 4.0: Shahrad et al., 'Serverless in the Wild', USENIX ATC "
    "2020; Zhang et al., 'Faster and Cheaper Serverless Computing on Harvested Resources', "
    "SOSP 2021"
)

DURATION_PERCENTILES = {0: 0.0, 1: 0.01, 25: 0.25, 50: 0.5, 75: 0.75, 99: 0.99, 100: 1.0}
MEMORY_PERCENTILES = {1: 0.01, 5: 0.05, 25: 0.25, 50: 0.5, 75: 0.75, 95: 0.95, 99: 0.99, 100: 1.0}
MIN_DURATION_MS = 1.0
_MINUTE = re.compile(r"^(\d+)(?:_minute)?$")

_NEEDS = {
    "invocations": ["HashOwner", "HashApp", "HashFunction"],
    "durations": ["HashOwner", "HashApp", "HashFunction"]
    + [f"percentile_Average_{p}" for p in DURATION_PERCENTILES],
    "memory": ["HashOwner", "HashApp"] + [f"AverageAllocatedMb_pct{p}" for p in MEMORY_PERCENTILES],
}


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().strip().split(",")


def find_files(directory: Path) -> dict[str, Path]:
    """The invocations, durations and memory CSVs of a 2019-format directory."""
    if not directory.is_dir():
        raise TraceError(f"{directory} is not a directory", "azure2019:DIR needs a folder")
    found: dict[str, Path] = {}
    for kind, columns in _NEEDS.items():
        matches = [
            p
            for p in sorted(directory.glob("*.csv"))
            if kind in p.name and set(columns) <= set(_header(p))
        ]
        if kind == "invocations":
            matches = [p for p in matches if any(_MINUTE.match(c) for c in _header(p))]
        if len(matches) != 1:
            what = "no" if not matches else f"{len(matches)}"
            raise TraceError(
                f"{directory}: {what} CSV whose name contains '{kind}' has the 2019 columns",
                f"put exactly one such file in the folder (columns {', '.join(columns[:4])}, ...)",
            )
        found[kind] = matches[0]
    return found


def inverse_cdf(
    table: NDArray[np.float64],
    probs: NDArray[np.float64],
    rows: NDArray[np.intp],
    u: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Draw from per-row piecewise-linear CDFs: ``table[row]`` holds values at ``probs``.

    ``u`` below ``probs[0]`` or above ``probs[-1]`` takes the first or last value.
    """
    u = np.clip(u, probs[0], probs[-1])
    k = np.clip(np.searchsorted(probs, u, side="right"), 1, len(probs) - 1)
    lo, hi = probs[k - 1], probs[k]
    frac = (u - lo) / (hi - lo)
    left, right = table[rows, k - 1], table[rows, k]
    return np.asarray(left + frac * (right - left), dtype=np.float64)


def load_azure2019(
    directory: Path, *, seed: int, origins: OriginModel, payloads: PayloadModel, label: str
) -> Trace:
    files = find_files(directory)
    invocations = pd.read_csv(files["invocations"])
    minute_columns = sorted(
        (c for c in invocations.columns if _MINUTE.match(c)),
        key=lambda c: int(_MINUTE.match(c).group(1)),  # type: ignore[union-attr]
    )
    counts = invocations[minute_columns].to_numpy()
    if not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise TraceError(
            f"{files['invocations']}: per-minute counts must be non-negative integers",
            "check the minute columns for text or negative numbers",
        )
    counts = counts.astype(np.int64)
    keys = ["HashOwner", "HashApp", "HashFunction"]
    durations = pd.read_csv(files["durations"]).drop_duplicates(keys)
    joined = invocations[keys].merge(durations, on=keys, how="left", validate="one_to_one")
    missing = joined["percentile_Average_50"].isna()
    if missing.any():
        raise TraceError(
            f"{files['durations']}: {int(missing.sum())} function(s) of the invocations file "
            "have no duration percentiles",
            "use the durations file of the same trace day",
        )
    memory = pd.read_csv(files["memory"]).drop_duplicates(["HashOwner", "HashApp"])
    mem_joined = invocations[keys[:2]].merge(memory, on=keys[:2], how="left")
    mem_cols = [f"AverageAllocatedMb_pct{p}" for p in MEMORY_PERCENTILES]
    no_memory = mem_joined[mem_cols[0]].isna().to_numpy()
    mem_table = mem_joined[mem_cols].to_numpy(dtype=np.float64)
    if no_memory.all():
        raise TraceError(f"{files['memory']}: no app matches the invocations file", "")
    # Apps without memory percentiles take the median app's percentiles.
    mem_table[no_memory] = np.nanmedian(mem_table[~no_memory], axis=0)

    n_functions, n_minutes = counts.shape
    function = np.repeat(np.repeat(np.arange(n_functions), n_minutes), counts.ravel())
    minute = np.repeat(np.tile(np.arange(n_minutes), n_functions), counts.ravel())
    timestamp = (minute + rng_for(seed, "times").random(minute.shape[0])) * 60.0

    dur_cols = [f"percentile_Average_{p}" for p in DURATION_PERCENTILES]
    dur_table = joined[dur_cols].to_numpy(dtype=np.float64)
    duration = inverse_cdf(
        dur_table,
        np.asarray(list(DURATION_PERCENTILES.values())),
        function,
        rng_for(seed, "durations").random(function.shape[0]),
    )
    memory_mb = inverse_cdf(
        mem_table,
        np.asarray(list(MEMORY_PERCENTILES.values())),
        function,
        rng_for(seed, "memory").random(function.shape[0]),
    )
    apps, app_codes = np.unique(
        (invocations["HashOwner"] + ":" + invocations["HashApp"]).to_numpy(dtype=str),
        return_inverse=True,
    )
    return assemble(
        function=function,
        app=app_codes[function],
        timestamp_s=timestamp,
        duration_ms=np.maximum(duration, MIN_DURATION_MS),
        memory_mb=memory_mb,
        function_names=invocations["HashFunction"].to_numpy(dtype=str),
        app_names=apps,
        seed=seed,
        origins=origins,
        payloads=payloads,
        meta={
            "source": label,
            "format": "azure2019",
            "files": {k: str(v) for k, v in files.items()},
            "apps_without_memory": int(no_memory.sum()),
            "citation": CITATION,
            "seed": seed,
        },
    )


def load_azure2021(
    path: Path, *, seed: int, origins: OriginModel, payloads: PayloadModel, label: str
) -> Trace:
    from skyroute.world.traces.synthetic import draw_memory

    if not path.is_file():
        raise TraceError(f"{path} does not exist", "azure2021:FILE needs the trace's CSV file")
    frame = pd.read_csv(path)
    needed = ["app", "func", "end_timestamp", "duration"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TraceError(
            f"{path}: missing column(s) {', '.join(missing)}",
            "the 2021 format has columns app, func, end_timestamp, duration",
        )
    if frame.empty:
        raise TraceError(f"{path}: the file has no rows", "give a trace with invocations")
    for column in ("end_timestamp", "duration"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise TraceError(
                f"{path}:{row + 2}: column '{column}' holds {frame[column].iloc[row]!r}",
                "seconds must be non-negative numbers",
            )
        frame[column] = values
    start = frame["end_timestamp"] - frame["duration"]
    timestamp = (start - min(0.0, float(start.min()))).to_numpy(dtype=np.float64)
    functions, function = np.unique(frame["func"].to_numpy(dtype=str), return_inverse=True)
    apps, app = np.unique(frame["app"].to_numpy(dtype=str), return_inverse=True)
    app_of_function = np.zeros(len(functions), dtype=np.int64)
    app_of_function[function] = app
    memory_mb = draw_memory(app, len(apps), rng_for(seed, "memory"))
    return assemble(
        function=function,
        app=app,
        timestamp_s=timestamp,
        duration_ms=np.maximum(frame["duration"].to_numpy(dtype=np.float64) * 1000.0, 1.0),
        memory_mb=memory_mb,
        function_names=functions,
        app_names=apps,
        seed=seed,
        origins=origins,
        payloads=payloads,
        meta={
            "source": label,
            "format": "azure2021",
            "memory": "drawn from the synthetic model (the 2021 trace has no memory)",
            "citation": CITATION,
            "seed": seed,
        },
    )
