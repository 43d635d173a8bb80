"""The burst classifier's data: per-minute load windows cut from a trace, and their labels.

Windows are the load forecaster's (:func:`skyroute.learn.forecast.windows`): a busy function's
``window`` minutes of calls, oldest first, and the ``horizon`` minutes after. A window is a
**burst ahead** (class 1) when the peak minute of its horizon exceeds ``burst_factor`` times the
window's mean *and* reaches ``min_burst_calls`` -- the second condition keeps a function going
from 0.1 to 1 call a minute from counting as a burst.

The last ``HOLDOUT`` of the trace's minutes are the validation split (every function; the
windows whose horizon starts there), so a model is scored on hours it never trained on. Bursts
are rare (about 2% of the default trace's windows), so training windows are drawn with
``burst_share`` of them bursts when that many exist; validation windows are left as they come,
so the metrics describe the trace.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.learn.forecast import LoadWindows, minute_counts, windows
from skyroute.world.traces.schema import Trace

#: Share of the trace's minutes (the last ones) the validation windows forecast.
HOLDOUT = 0.25
#: The data are the trace's, whatever the run's seed: runs of one sweep see the same windows.
DATA_SEED = 0
#: Training windows are drawn from at most this many (a uniform sample of all of them).
POOL = 200_000


class BurstWindows(NamedTuple):
    """Model inputs and labels."""

    x: NDArray[np.float32]  #: [n, window] calls per minute, oldest first
    label: NDArray[np.float32]  #: [n] 1.0 = a burst ahead


class BurstData(NamedTuple):
    train: BurstWindows
    val: BurstWindows
    #: The validation split's first minute (the end of what training saw).
    cut_minute: int


def burst_labels(
    x: NDArray[np.float32], ahead: NDArray[np.float32], factor: float, min_calls: int
) -> NDArray[np.bool_]:
    """True where the peak of ``ahead`` [n, horizon] exceeds ``factor`` x the mean of ``x``
    [n, window] and reaches ``min_calls``."""
    peak = ahead.max(axis=1)
    burst: NDArray[np.bool_] = (peak > factor * x.mean(axis=1)) & (peak >= min_calls)
    return burst


def draw(
    labels: NDArray[np.bool_], size: int, share: float | None, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Sorted indices of at most ``size`` rows: ``share`` of them bursts when there are enough
    (all of them otherwise), the rest quiet; ``None`` draws uniformly."""
    n = labels.shape[0]
    if share is None:
        return np.sort(rng.choice(n, min(size, n), replace=False)).astype(np.int64)
    bursts, quiet = np.flatnonzero(labels), np.flatnonzero(~labels)
    n_bursts = min(bursts.size, round(share * size))
    n_quiet = min(quiet.size, size - n_bursts)
    chosen = np.concatenate(
        [rng.choice(bursts, n_bursts, replace=False), rng.choice(quiet, n_quiet, replace=False)]
    )
    return np.sort(chosen).astype(np.int64)


def _labelled(rows: LoadWindows, factor: float, min_calls: int) -> tuple[BurstWindows, int]:
    labels = burst_labels(rows.x, rows.y, factor, min_calls)
    return BurstWindows(rows.x, labels.astype(np.float32)), int(labels.sum())


def cut_burst_windows(
    counts: NDArray[np.float32],
    *,
    window: int,
    horizon: int,
    burst_factor: float,
    min_burst_calls: int,
    max_windows: int,
    max_val_windows: int,
    burst_share: float | None,
) -> BurstData:
    """Training and validation windows of ``counts`` [functions, minutes] (see the module
    docstring); a split without both classes is a ConfigError saying what to change."""
    minutes = counts.shape[1]
    cut = int(minutes * (1.0 - HOLDOUT))
    purpose = "cut burst windows from"
    pool = windows(counts, window, 0, cut, DATA_SEED, horizon=horizon, limit=POOL, purpose=purpose)
    val_rows = windows(
        counts, window, cut - window, minutes, DATA_SEED, horizon=horizon,
        limit=max_val_windows, purpose=purpose,
    )  # fmt: skip
    labels = burst_labels(pool.x, pool.y, burst_factor, min_burst_calls)
    keep = draw(labels, max_windows, burst_share, np.random.default_rng(DATA_SEED))
    train = BurstWindows(pool.x[keep], labels[keep].astype(np.float32))
    val, val_bursts = _labelled(val_rows, burst_factor, min_burst_calls)
    for split, rows, bursts in (
        ("training", train, int(train.label.sum())),
        ("validation", val, val_bursts),
    ):
        if bursts == 0 or bursts == rows.label.shape[0]:
            raise ConfigError(
                f"the {split} windows hold {bursts} bursts out of {rows.label.shape[0]}: "
                "a classifier needs both classes",
                "lower burst_factor or min_burst_calls, or use a larger trace or max_windows",
            )
    return BurstData(train, val, cut)


def load_counts(spec: str) -> tuple[NDArray[np.float32], Trace]:
    """Calls per minute of ``spec``'s functions [functions, minutes], and the trace."""
    from skyroute.learn.pipeline import load

    trace = load(spec, DATA_SEED)
    return minute_counts(trace), trace
