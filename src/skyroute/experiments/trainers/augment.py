"""Time-warp augmentation of load windows (Um et al. 2017, "Data augmentation of wearable
sensor data"), as one pure NumPy function.

Each row gets its own smooth random speed curve: ``knots`` speeds drawn from N(1, sigma),
joined piecewise linearly over the window. Integrating the speed gives a warped clock, rescaled
to start at the first minute and end at the last, and the row is read (linearly interpolated)
at the warped times. A burst therefore keeps its size but arrives a little earlier or later and
lasts a little longer or shorter -- what two days of the same function look like -- while the
window's first and last minutes stay where they are. Sigma 0 is the identity, exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Speeds are kept at least this, so the warped clock never stops or runs backwards.
MIN_SPEED = 0.05
KNOTS = 4


def time_warp(
    x: NDArray[np.floating], sigma: float, rng: np.random.Generator, knots: int = KNOTS
) -> NDArray[np.floating]:
    """``x`` [n, steps] with each row's time axis smoothly warped; same shape and dtype.

    Every output value lies between two neighbouring input values of its row (so within the
    row's range): the warp moves values in time and never invents new levels.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, not {sigma}")
    rows, steps = x.shape
    if rows == 0 or steps < 2:
        return x.copy()
    # Speeds at the knots, spread evenly over the window, then at every step.
    speed_knots = np.maximum(1.0 + sigma * rng.standard_normal((rows, knots + 2)), MIN_SPEED)
    at = np.arange(steps) * (knots + 1) / (steps - 1.0)  # each step's place between knots
    k = np.minimum(np.floor(at).astype(np.int64), knots)
    speed = speed_knots[:, k] + (speed_knots[:, k + 1] - speed_knots[:, k]) * (at - k)
    # The warped clock: the speed's running (trapezoid) integral, scaled to end at steps - 1.
    clock = np.concatenate(
        [np.zeros((rows, 1)), np.cumsum((speed[:, 1:] + speed[:, :-1]) / 2.0, axis=1)], axis=1
    )
    clock *= (steps - 1.0) / clock[:, -1:]
    left = np.clip(np.floor(clock).astype(np.int64), 0, steps - 2)
    share = np.clip(clock - left, 0.0, 1.0)
    rows_index = np.arange(rows)[:, None]
    a, b = x[rows_index, left].astype(np.float64), x[rows_index, left + 1].astype(np.float64)
    warped = a * (1.0 - share) + b * share
    # Rounding may overshoot a neighbour by an ulp; the stated range is a promise.
    warped = np.clip(warped, np.minimum(a, b), np.maximum(a, b))
    out: NDArray[np.floating] = warped.astype(x.dtype)
    return out
