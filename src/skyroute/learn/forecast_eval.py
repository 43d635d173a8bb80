"""Fit the load forecaster and score it per horizon against three baselines on held-out hours.

Baselines, each a forecast of minutes t+1 .. t+12 made at minute t:

* ``last_value``: the last observed minute, repeated.
* ``window_mean``: the mean of the input window, repeated (a smoothed last value).
* ``seasonal_1h``: the same minutes one hour earlier (``SEASON_MINUTES``): timer-triggered
  functions repeat to the minute, which a mean smears out (on the default trace it is still
  the weakest). With at most 12 steps ahead the season lies 48 or more minutes in the past,
  so it is known at forecast time.

R² and RMSE are pooled over every held-out window of every function, at each horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.bundles.forecaster import HORIZON
from skyroute.errors import ConfigError
from skyroute.learn import forecast
from skyroute.learn.config import HierarchyConfig

SEASON_MINUTES = 60
MODEL = "lstm"
BASELINES = ("last_value", "window_mean", "seasonal_1h")


@dataclass(frozen=True)
class HorizonScores:
    """One forecaster's R² and RMSE (calls per minute) at horizons 1 .. HORIZON."""

    r2: tuple[float, ...]
    rmse: tuple[float, ...]

    def to_dict(self) -> dict[str, list[float]]:
        return {"r2": list(self.r2), "rmse": list(self.rmse)}


def score_horizons(predicted: NDArray[Any], y: NDArray[Any]) -> HorizonScores:
    """R² and RMSE of ``predicted`` against ``y``, both [n, HORIZON], one per column."""
    residual = np.sum((y - predicted) ** 2, axis=0, dtype=np.float64)
    total = np.sum((y - y.mean(axis=0)) ** 2, axis=0, dtype=np.float64)
    r2 = 1.0 - residual / np.where(total > 0, total, 1.0)
    rmse = np.sqrt(residual / y.shape[0])
    return HorizonScores(tuple(float(v) for v in r2), tuple(float(v) for v in rmse))


def last_value(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The last observed minute of each window, repeated over the horizon: [n, HORIZON]."""
    return np.repeat(x[:, -1:], HORIZON, axis=1)


def window_mean(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The mean of each input window, repeated over the horizon: [n, HORIZON]."""
    return np.repeat(x.mean(axis=1, keepdims=True, dtype=np.float64), HORIZON, axis=1).astype(
        np.float32
    )


def seasonal(counts: NDArray[np.float32], rows: forecast.LoadWindows) -> NDArray[np.float32]:
    """The target minutes' counts one ``SEASON_MINUTES`` earlier: [n, HORIZON]."""
    minutes = rows.first[:, None] - SEASON_MINUTES + np.arange(HORIZON)
    if rows.first.size and int(minutes.min()) < 0:
        raise ConfigError(
            f"the seasonal baseline needs {SEASON_MINUTES} minutes before the first window",
            "hold out later hours (a smaller holdout share) or use a longer trace",
        )
    same_minutes: NDArray[np.float32] = counts[rows.row[:, None], minutes]
    return same_minutes


def compare(
    predicted: NDArray[Any], rows: forecast.LoadWindows, counts: NDArray[np.float32]
) -> dict[str, HorizonScores]:
    """The model's scores and the baselines', keyed ``MODEL`` then ``BASELINES``."""
    return {
        MODEL: score_horizons(predicted, rows.y),
        "last_value": score_horizons(last_value(rows.x), rows.y),
        "window_mean": score_horizons(window_mean(rows.x), rows.y),
        "seasonal_1h": score_horizons(seasonal(counts, rows), rows.y),
    }


@dataclass(frozen=True)
class ForecastRun:
    """A trained forecaster (a torch module), the windows it was scored on, and the scores."""

    model: Any
    test: forecast.LoadWindows
    scores: dict[str, HorizonScores]

    def metrics(self) -> dict[str, Any]:
        """What ``bundle.json`` and ``training.json`` record of the run."""
        return {
            "horizon": HORIZON,
            "held_out_windows": int(self.test.x.shape[0]),
            "held_out_hours": {name: s.to_dict() for name, s in self.scores.items()},
        }


def fit_and_score(
    counts: NDArray[np.float32],
    cut_minute: int,
    config: HierarchyConfig,
    on_epoch: Callable[[int], None] | None = None,
) -> ForecastRun:
    """Train on windows whose targets end before ``cut_minute``; score on those after it.

    Seeds first, so the forecaster trained inside ``skyroute train hierarchy`` (after the two
    agents) is the one ``benchmarks/bench_forecast.py`` trains alone.
    """
    from skyroute.learn.seeding import seed_everything

    seed_everything(config.seed)
    train_rows = forecast.windows(counts, config.window, 0, cut_minute, config.seed)
    test_rows = forecast.windows(
        counts, config.window, cut_minute - config.window, counts.shape[1], config.seed
    )
    model = forecast.train(
        train_rows.x, train_rows.y, hidden=config.lstm_hidden, epochs=config.lstm_epochs,
        learning_rate=config.lstm_learning_rate, under_weight=config.under_weight,
        on_epoch=on_epoch,
    )  # fmt: skip
    scores = compare(forecast.predict(model, test_rows.x), test_rows, counts)
    return ForecastRun(model, test_rows, scores)
