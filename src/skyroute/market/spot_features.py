"""Features of the spot models, shared by training and the decision server.

One implementation on both sides, so the server computes exactly what the models were trained
on. Pure functions over plain numbers (NumPy, the standard library and the catalog only): no
training library is imported here.

Interruption (:data:`INTERRUPTION_FEATURES`): inputs the server may lack map to documented
neutral values, never NaN. A missing advisor entry is bucket 2 (the middle of the 0..4 scale,
the bucket the server falls back on) with ``advisor_listed = 0`` and
:data:`NEUTRAL_SAVINGS_PCT`; a missing on-demand price is replaced by the advisor's implied
spot/on-demand ratio ``1 - savings``; an empty price history gives zero price movement and
``history_fraction = 0``. Training hides each of these inputs on a share of its rows, so the
model has seen the neutral values and learned what they mean on average.

Price (:data:`PRICE_FEATURES`): the forecaster predicts ``log(price[t + h] / price[t])`` with
``h =`` :data:`PRICE_HORIZON_HOURS`, where ``price[t]`` is the last value of the history;
the forecast price is ``price[t] * exp(prediction)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from skyroute.world.catalog.loader import load_catalog

#: Hours of history the features look at (one week).
HISTORY_HOURS = 168
#: Bucket used when the Spot Advisor does not list an instance type in a region.
NEUTRAL_BUCKET = 2
#: Savings (percent vs on-demand) used when the advisor does not list the pool (about the
#: median of the shipped advisor table, 72 %).
NEUTRAL_SAVINGS_PCT = 70.0
#: Log price ratios are clipped to this magnitude, so absurd inputs stay finite.
LOG_RATIO_LIMIT = 3.0

INTERRUPTION_FEATURES: tuple[str, ...] = (
    "advisor_bucket",  # 0..4 (<5 %, 5-10 %, 10-15 %, 15-20 %, >20 % interrupted per month)
    "advisor_listed",  # 1 if the advisor lists the pool, else 0
    "savings_frac",  # advisor savings vs on-demand, 0..1
    "spot_ondemand_ratio",  # spot / on-demand at launch, clipped to [0, 2]
    "price_vs_7d_mean",  # log(spot / mean of the history)
    "price_change_24h",  # log(spot / price 24 h earlier, or the oldest known)
    "price_volatility_24h",  # std of hourly log changes over the last 24 h
    "history_fraction",  # hours of history known / 168
    "hour_sin",  # UTC hour of launch on the unit circle
    "hour_cos",
    "is_weekend",  # Saturday or Sunday, UTC
)

PRICE_HORIZON_HOURS = 6
#: The forecaster needs at least this many hourly values (the last is price[t]).
PRICE_MIN_HISTORY = 24

PRICE_FEATURES: tuple[str, ...] = (
    "ret_1h",  # log(price[t] / price[t - 1])
    "ret_3h",
    "ret_6h",
    "ret_12h",
    "dev_24h_mean",  # log(price[t] / mean of the last 24 values)
    "dev_168h_mean",  # log(price[t] / mean of the whole history, up to 168 values)
    "yesterday_target_vs_24h_mean",  # log(price[t + h - 24] / mean of the last 24 values)
    "vol_24h",  # std of hourly log changes over the last 24 values
    "hour_sin",  # UTC hour of t on the unit circle
    "hour_cos",
)


@functools.lru_cache(maxsize=1)
def _advisor_index() -> dict[tuple[str, str], tuple[int, float]]:
    advisor = load_catalog().spot_advisor
    return {
        (str(t), str(r)): (int(b), float(s))
        for t, r, b, s in zip(
            advisor["instance_type"],
            advisor["region"],
            advisor["interruption_bucket"],
            advisor["savings_pct_vs_ondemand"],
            strict=True,
        )
    }


def advisor_info(instance_type: str, region: str) -> tuple[int, float] | None:
    """(interruption bucket 0..4, savings % vs on-demand) from the Spot Advisor, or None."""
    return _advisor_index().get((instance_type, region))


def _clip(value: float, low: float, high: float) -> float:
    """``value`` inside [low, high]; NaN becomes 0 (no movement) before clipping."""
    return 0.0 if math.isnan(value) else min(max(value, low), high)


def _log_ratio(a: float, b: float) -> float:
    return _clip(math.log(a) - math.log(b), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)


def _positive(value: float | None) -> float | None:
    """``value`` if it is a finite positive number, else None (treated as unknown)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0.0 else None


def _volatility(prices: np.ndarray) -> float:
    """Standard deviation of hourly log changes; 0 with fewer than three prices."""
    if len(prices) < 3:
        return 0.0
    changes = np.clip(np.diff(np.log(prices)), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)
    return _clip(float(np.std(changes)), 0.0, LOG_RATIO_LIMIT)


def _clock(moment: datetime) -> tuple[float, float, float]:
    """(hour_sin, hour_cos, is_weekend) of ``moment`` in UTC (naive times are taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    angle = 2.0 * math.pi * (moment.hour + moment.minute / 60.0) / 24.0
    return math.sin(angle), math.cos(angle), float(moment.weekday() >= 5)


def interruption_features(
    *,
    spot_price: float,
    ondemand_price: float | None,
    recent_spot_prices: Sequence[float],
    advisor_bucket: int | None,
    savings_pct: float | None,
    launch_time: datetime,
) -> dict[str, float]:
    """:data:`INTERRUPTION_FEATURES` of one launch, every value finite.

    ``recent_spot_prices`` are the hourly spot prices before launch, oldest first (only the last
    168 are used). Non-finite or non-positive prices count as unknown; an unknown ``spot_price``
    falls back on the newest known history value.
    """
    history = np.asarray(list(recent_spot_prices)[-HISTORY_HOURS:], dtype=np.float64)
    history = history[np.isfinite(history) & (history > 0.0)]
    listed = advisor_bucket is not None and 0 <= int(advisor_bucket) <= 4
    bucket = float(int(advisor_bucket)) if listed and advisor_bucket is not None else NEUTRAL_BUCKET
    savings = savings_pct if savings_pct is not None and math.isfinite(savings_pct) else None
    savings_frac = _clip((NEUTRAL_SAVINGS_PCT if savings is None else savings) / 100.0, 0.0, 1.0)
    spot = _positive(spot_price) or (float(history[-1]) if len(history) else None)
    ondemand = _positive(ondemand_price)
    if spot is not None and ondemand is not None:
        ratio = _clip(spot / ondemand, 0.0, 2.0)
    else:
        ratio = 1.0 - savings_frac  # what the advisor's savings imply
    if spot is not None and len(history):
        vs_mean = _log_ratio(spot, float(np.mean(history)))
        change = _log_ratio(spot, float(history[-min(24, len(history))]))
        volatility = _volatility(np.append(history[-23:], spot))
    else:
        vs_mean = change = volatility = 0.0
    hour_sin, hour_cos, weekend = _clock(launch_time)
    values = (
        bucket,
        float(listed),
        savings_frac,
        ratio,
        vs_mean,
        change,
        volatility,
        len(history) / HISTORY_HOURS,
        hour_sin,
        hour_cos,
        weekend,
    )
    return dict(zip(INTERRUPTION_FEATURES, (float(v) for v in values), strict=True))


def price_features(recent_spot_prices: Sequence[float], at: datetime) -> dict[str, float]:
    """:data:`PRICE_FEATURES` at hour ``at``, the hour of the last (newest) price.

    ``recent_spot_prices`` are hourly, oldest first, at least :data:`PRICE_MIN_HISTORY` finite
    positive values (only the last 168 are used). The forecaster's target is
    ``log(price[at + PRICE_HORIZON_HOURS] / price[at])``.
    """
    values = list(recent_spot_prices)[-HISTORY_HOURS:]
    if len(values) < PRICE_MIN_HISTORY:
        raise ValueError(
            f"the spot price forecast needs at least {PRICE_MIN_HISTORY} hourly prices, got "
            f"{len(values)}; fill the price history first"
        )
    prices = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(prices).all() and (prices > 0.0).all()):
        raise ValueError("spot prices must be finite and positive; drop or fill bad points")
    now = float(prices[-1])
    day = prices[-PRICE_MIN_HISTORY:]
    day_mean = float(np.mean(day))
    hour_sin, hour_cos, _ = _clock(at)
    values_out = (
        _log_ratio(now, float(prices[-2])),
        _log_ratio(now, float(prices[-4])),
        _log_ratio(now, float(prices[-7])),
        _log_ratio(now, float(prices[-13])),
        _log_ratio(now, day_mean),
        _log_ratio(now, float(np.mean(prices))),
        _log_ratio(float(prices[PRICE_HORIZON_HOURS - 25]), day_mean),
        _volatility(day),
        hour_sin,
        hour_cos,
    )
    return dict(zip(PRICE_FEATURES, (float(v) for v in values_out), strict=True))
