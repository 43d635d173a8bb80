"""Replay a trace's load under reactive and predictive scaling (``skyroute autoscale simulate``).

The service is the whole trace: its calls per minute, summed over functions. The forecast of
the service is the sum of the ``forecast.load`` bundle's forecasts of each function (the model
was trained per function). The replay covers the trace's last ``holdout`` share of minutes --
the hours ``skyroute train hierarchy`` holds out from the forecaster with the same default --
so the forecast is scored on load it never saw. A replica is priced as an AWS Fargate task of
``vcpu`` vCPUs and ``memory_gb`` GB in us-east-1 (x86, on demand, the shipped price).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyroute.autoscale.scaling import Array, Service, predictive, reactive, score
from skyroute.bundles.forecaster import HORIZON, Forecaster
from skyroute.errors import ConfigError
from skyroute.world.catalog.loader import load_catalog


@dataclass(frozen=True)
class Replay:
    minutes: Array  # minute index in the trace
    load: Array
    forecast: Array  # [minutes, HORIZON]
    reactive: Any
    predictive: Any
    service: Service
    price_per_minute: float

    def summary(self) -> dict[str, Any]:
        return {
            "minutes": int(self.load.shape[0]),
            "calls": float(self.load.sum()),
            "service": self.service.__dict__,
            "price_per_replica_minute_usd": self.price_per_minute,
            "reactive": score(
                self.load, self.reactive, self.service, self.price_per_minute
            ).as_dict(),
            "predictive": score(
                self.load, self.predictive, self.service, self.price_per_minute
            ).as_dict(),
        }


def replica_price_per_minute(vcpu: float, memory_gb: float) -> float:
    prices = load_catalog().fargate_prices
    row = prices[
        (prices["region"] == "us-east-1")
        & (prices["arch"] == "x86_64")
        & (prices["plan"] == "on-demand")
    ].iloc[0]
    return float((vcpu * row["usd_per_vcpu_hour"] + memory_gb * row["usd_per_gb_hour"]) / 60.0)


def service_forecast(counts: Array, forecaster: Forecaster, start: int) -> Array:
    """[minutes - start, HORIZON]: at each minute t >= start, the summed forecast of every
    function from the minutes before t."""
    window = forecaster.window
    if start < window:
        raise ConfigError(
            f"the replay starts at minute {start}, before the forecaster's {window}-minute window",
            "use a longer trace or a smaller --holdout",
        )
    # Functions seen before the replay starts (a function that appears later is new: the
    # reactive floor serves it until it has a history).
    active = counts[counts[:, :start].sum(axis=1) > 0]
    out = np.zeros((counts.shape[1] - start, HORIZON))
    for i, t in enumerate(range(start, counts.shape[1])):
        out[i] = forecaster.forecast_batch(active[:, t - window : t]).sum(axis=0)
    return out


def replay(
    counts: Array, forecaster: Forecaster, service: Service, holdout: float, price: float
) -> Replay:
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"--holdout {holdout} is not a share", "use e.g. 0.25")
    start = int(counts.shape[1] * (1.0 - holdout))
    load = counts[:, start:].sum(axis=0).astype(np.float64)
    forecast = service_forecast(counts, forecaster, start)
    return Replay(
        np.arange(start, counts.shape[1], dtype=np.float64), load, forecast,
        reactive(load, service), predictive(load, forecast, service), service, price,
    )  # fmt: skip


def plot(result: Replay, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = result.minutes / 60.0
    cap = result.service.capacity
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    top.plot(hours, result.load, color="#111827", lw=1, label="load (calls/min)")
    top.plot(hours, result.reactive * cap, color="#d97706", lw=1.2, label="reactive capacity")
    top.plot(hours, result.predictive * cap, color="#2563eb", lw=1.2, label="predictive capacity")
    top.set_ylabel("calls per minute")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("Replay of the held-out hours: load against ready capacity")
    for name, ready, colour in (
        ("reactive", result.reactive, "#d97706"),
        ("predictive", result.predictive, "#2563eb"),
    ):
        short = result.load > ready * cap
        bottom.plot(hours, ready, color=colour, lw=1.2, label=f"{name} replicas")
        bottom.scatter(hours[short], ready[short], color=colour, s=10, marker="x")
    bottom.set_xlabel("hour of the trace")
    bottom.set_ylabel("ready replicas (x: SLO violated)")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
