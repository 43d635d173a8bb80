"""Our own trace format (``schema.COLUMNS``) as CSV or Parquet: checked reads, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from skyroute.errors import TraceError, UnknownNameError
from skyroute.io import atomic_file
from skyroute.world.traces.assemble import from_columns
from skyroute.world.traces.schema import COLUMNS, Trace

NUMERIC = ("timestamp_s", "duration_ms", "memory_mb", "payload_kb")


def read_table(path: Path, fmt: str) -> pd.DataFrame:
    if not path.is_file():
        raise TraceError(f"{path} does not exist", f"{fmt}:FILE needs an existing file")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise TraceError(f"{path} is empty", "the file needs a header and rows") from None
    except (ValueError, OSError) as exc:
        raise TraceError(f"{path}: cannot be read as {fmt} ({exc})", "check the file") from exc


def load_own(path: Path, fmt: str, known_regions: tuple[str, ...] | None, label: str) -> Trace:
    """Load a CSV/Parquet file in our schema; every problem names the file, line and column."""
    frame = read_table(path, fmt)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TraceError(
            f"{path}: missing column(s) {', '.join(missing)}",
            f"the columns are {', '.join(COLUMNS)} (see docs/traces.md)",
        )
    if frame.empty:
        raise TraceError(f"{path} has no rows", "give a trace with at least one invocation")
    numbers: dict[str, np.ndarray] = {}
    for column in NUMERIC:
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        lowest = 0.0 if column in ("timestamp_s", "payload_kb") else np.nextafter(0.0, 1.0)
        bad = ~np.isfinite(values) | (values < lowest)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            need = "a non-negative number" if lowest == 0.0 else "a positive number"
            raise TraceError(
                f"{path}:{_line(row, fmt)}: column '{column}' holds {raw.iloc[row]!r}",
                f"each value must be {need} ({COLUMNS[column]})",
            )
        numbers[column] = values
    origins = frame["origin"].astype(str).to_numpy()
    origin_names, origin = np.unique(origins, return_inverse=True)
    if known_regions is not None:
        for name in origin_names:
            if name not in known_regions:
                row = int(np.flatnonzero(origins == name)[0])
                raise UnknownNameError(
                    f"origin region ({path}:{_line(row, fmt)}, column 'origin')",
                    name,
                    known_regions,
                )
    functions, function = np.unique(frame["function_id"].to_numpy(dtype=str), return_inverse=True)
    apps, app = np.unique(frame["app_id"].to_numpy(dtype=str), return_inverse=True)
    return from_columns(
        function=function,
        app=app,
        timestamp_s=numbers["timestamp_s"],
        duration_ms=numbers["duration_ms"],
        memory_mb=numbers["memory_mb"],
        payload_kb=numbers["payload_kb"],
        origin=origin,
        function_names=functions,
        app_names=apps,
        origin_names=tuple(str(n) for n in origin_names),
        meta={"source": label, "format": fmt, "file": str(path)},
    )


def _line(row: int, fmt: str) -> str:
    return f"line {row + 2}" if fmt == "csv" else f"row {row}"


def to_frame(trace: Trace) -> pd.DataFrame:
    """The trace in our schema's columns, one row per invocation."""
    return pd.DataFrame(
        {
            "function_id": trace.function_names[trace.function],
            "app_id": trace.app_names[trace.app],
            "timestamp_s": trace.timestamp_s,
            "duration_ms": trace.duration_ms,
            "memory_mb": trace.memory_mb,
            "payload_kb": trace.payload_kb,
            "origin": np.asarray(trace.origin_names, dtype=str)[trace.origin],
        }
    )


def save_trace(trace: Trace, path: Path) -> None:
    """Write ``trace`` as CSV or Parquet (by suffix); the file appears only when complete."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise TraceError(f"cannot tell the format of {path}", "name the file *.csv or *.parquet")
    frame = to_frame(trace)
    with atomic_file(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
