"""Datasets of ``skyroute train spot``: simulated interruption labels and spot price paths.

There is no public log of individual spot interruptions, so the label "interrupted within 24 h
of launch" is simulated (docs/spot.md). Per pool (region x instance type of the AWS Spot
Advisor) and hour, the hazard is the advisor bucket's constant hazard
(:func:`skyroute.world.providers.spot.bucket_hazard_per_hour`) scaled by price pressure and a
clock effect, all set in :class:`LabelModel`; the outcome of each launch is one draw of a
seeded generator. Prices are the labelled-synthetic hourly paths of
:mod:`skyroute.market.sources.synthetic`; both models therefore learn that generator, not a
real market.

Splits are by time: launches whose 24-hour label window ends before the cut train (the last
part of them calibrates), launches at or after the cut are held out; the price forecaster uses
the same cut with its own horizon.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.market import spot_features as sf
from skyroute.market.points import SeriesKey, hours_between
from skyroute.market.sources.embedded import snapshot_value
from skyroute.market.sources.synthetic import SyntheticSource, spot_multiplier
from skyroute.world.catalog.loader import Catalog
from skyroute.world.providers.spot import bucket_hazard_per_hour

Report = Callable[[str, int, int], None]

FIT, CALIBRATE, TEST = 0, 1, 2
#: On-demand price per vCPU-hour for advisor pools the price snapshot does not list (the
#: advisor has no prices; m5.large in us-east-1 is 0.096 USD for 2 vCPUs). Only ratios reach
#: the features, so this sets the scale of nothing the models see.
ONDEMAND_USD_PER_VCPU_PROXY = 0.048


@dataclass(frozen=True)
class LabelModel:
    """The one place the simulated interruption label is defined.

    hazard(h) = bucket_hazard x exp(beta_rise * log(price(h) / mean of the 168 h before)
                                    + beta_ratio * (price(h) / on-demand - reference_ratio)
                                    + busy_hours (weekdays 13-21 UTC) + weekend (Sat/Sun));
    P(interrupted within 24 h of launch t) = 1 - exp(-sum of hazard over hours t .. t+23).
    The betas are modest: a price 10 % above its weekly mean multiplies the hazard by
    1.1 ** 4 = 1.46; a spot/on-demand ratio of 0.5 instead of 0.3 by exp(0.3) = 1.35.
    """

    horizon_hours: int = 24
    beta_rise: float = 4.0
    beta_ratio: float = 1.5
    reference_ratio: float = 0.3
    busy_hours: float = 0.25
    weekend: float = -0.15

    def clock_effect(self, hours: Sequence[datetime]) -> NDArray[np.float64]:
        """Log-hazard added at each UTC hour."""
        hour = np.array([h.hour for h in hours])
        weekday = np.array([h.weekday() for h in hours])
        busy = (weekday < 5) & (hour >= 13) & (hour < 21)
        return self.busy_hours * busy + self.weekend * (weekday >= 5)


@dataclass(frozen=True)
class SpotConfig:
    """The whole configuration of one ``skyroute train spot`` run (logged into both bundles)."""

    until: date
    seed: int = 0
    days: int = 90
    #: Advisor pools (region x instance type) sampled for the interruption dataset.
    pools: int = 1000
    #: One simulated launch per pool every this many hours.
    launch_every_hours: int = 2
    rounds: int = 200
    price_rounds: int = 300
    max_depth: int = 4
    learning_rate: float = 0.05
    #: Least hessian per leaf of the classifier, as a share of the fit rows' total (about that
    #: share of their positives), so trees grow with the data instead of fitting draws.
    min_leaf_share: float = 0.02
    threads: int = 2
    #: Share of the launch window (its end) held out; share of training (its end) calibrating.
    holdout: float = 0.25
    calibration: float = 0.2
    #: Share of training rows on which each optional input is hidden (see spot_features).
    input_dropout: float = 0.05
    label: LabelModel = field(default_factory=LabelModel)

    def __post_init__(self) -> None:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        if self.until > yesterday:
            raise ConfigError(
                f"--until {self.until.isoformat()} is not over yet (the last day must be complete)",
                f"use {yesterday.isoformat()} or earlier",
            )
        if self.days < 14:
            raise ConfigError(
                f"--days {self.days} is too short to hold out later hours", "use --days 14 or more"
            )
        for name in ("pools", "launch_every_hours", "rounds", "price_rounds", "max_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} {getattr(self, name)} is impossible",
                    f"{name} must be at least 1",
                )
        if self.threads < 1 or not self.learning_rate > 0:
            raise ConfigError("threads and learning rate must be positive", "use e.g. 2 and 0.05")
        for name in ("holdout", "calibration", "min_leaf_share"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} is not a share", "use e.g. 0.25")
        if not 0.0 <= self.input_dropout < 1.0:
            raise ConfigError(f"input_dropout={self.input_dropout} is not a share", "use 0.05")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["until"] = self.until.isoformat()
        return out


def parse_until(text: str, today: date | None = None) -> date:
    """``--until``: an ISO date, or yesterday (UTC) when empty."""
    if not text:
        return (today or datetime.now(UTC).date()) - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--until {text!r} is not a date", "write it as YYYY-MM-DD") from None


@dataclass(frozen=True)
class Window:
    """Launch hours ``[start, end - 24 h]``, prices ``[start - 168 h, end)``, and the cuts."""

    start: datetime
    end: datetime
    cut: datetime
    calibration_cut: datetime

    @classmethod
    def of(cls, config: SpotConfig) -> Window:
        end = datetime(config.until.year, config.until.month, config.until.day, tzinfo=UTC)
        end += timedelta(days=1)
        start = end - timedelta(days=config.days)
        span = (end - start).total_seconds() / 3600.0
        cut = start + timedelta(hours=round(span * (1.0 - config.holdout)))
        train = (cut - start).total_seconds() / 3600.0
        calibration_cut = start + timedelta(hours=round(train * (1.0 - config.calibration)))
        return cls(start, end, cut, calibration_cut)

    @property
    def trained_until(self) -> str:
        """Last day any training row's data (features or label window) reaches."""
        return (self.cut - timedelta(hours=1)).date().isoformat()

    def price_hours(self) -> list[datetime]:
        return hours_between(self.start - timedelta(hours=sf.HISTORY_HOURS), self.end)

    def part(self, at: datetime, reach_hours: int, calibrating: bool = True) -> int:
        """FIT, CALIBRATE or TEST for a row at ``at`` whose target reaches ``reach_hours`` on;
        -1 for rows whose target would straddle a cut (purged). Without ``calibrating`` every
        training row is FIT."""
        reach = at + timedelta(hours=reach_hours)
        if at >= self.cut:
            return TEST
        if reach > self.cut:
            return -1
        if not calibrating or at >= self.calibration_cut:
            return CALIBRATE if calibrating else FIT
        return FIT if reach <= self.calibration_cut else -1


@dataclass(frozen=True)
class Pool:
    region: str
    instance_type: str
    bucket: int
    savings_pct: float
    ondemand: float

    @property
    def key(self) -> SeriesKey:
        return SeriesKey("spot_price", "aws", self.region, self.instance_type)


@dataclass(frozen=True)
class Rows:
    """A feature matrix, its targets and what the evaluation needs beside them."""

    x: NDArray[np.float32]
    y: NDArray[np.float64]
    part: NDArray[np.int8]
    extra: dict[str, NDArray[Any]]

    @classmethod
    def concat(cls, blocks: Sequence[Rows]) -> Rows:
        return cls(
            np.concatenate([b.x for b in blocks]),
            np.concatenate([b.y for b in blocks]),
            np.concatenate([b.part for b in blocks]),
            {k: np.concatenate([b.extra[k] for b in blocks]) for k in blocks[0].extra},
        )

    def take(self, part: int) -> Rows:
        keep = self.part == part
        return Rows(
            self.x[keep], self.y[keep], self.part[keep], {k: v[keep] for k, v in self.extra.items()}
        )


def sample_pools(catalog: Catalog, count: int, seed: int) -> list[Pool]:
    """``count`` advisor pools drawn without replacement (seeded), with an on-demand price."""
    advisor = catalog.spot_advisor
    rng = np.random.default_rng([seed, 1])
    picked = advisor.iloc[np.sort(rng.choice(len(advisor), min(count, len(advisor)), False))]
    return [
        pool_of(catalog, str(r.instance_type), str(r.region), advisor_row=r)
        for r in picked.itertuples()
    ]


def pool_of(catalog: Catalog, instance_type: str, region: str, advisor_row: Any = None) -> Pool:
    row = advisor_row
    if row is None:
        adv = catalog.spot_advisor
        row = next(adv[(adv.instance_type == instance_type) & (adv.region == region)].itertuples())
    ondemand = snapshot_value(SeriesKey("ondemand_price", "aws", region, instance_type), catalog)
    if ondemand is None:
        ondemand = ONDEMAND_USD_PER_VCPU_PROXY * float(row.vcpus)
    return Pool(
        region,
        instance_type,
        int(row.interruption_bucket),
        float(row.savings_pct_vs_ondemand),
        float(ondemand),
    )


def pool_prices(pool: Pool, hours: list[datetime], source: SyntheticSource) -> NDArray[np.float64]:
    """Hourly spot prices: the synthetic source's where the snapshot prices the pool, else
    on-demand x (1 - savings) x the same multiplier, capped at on-demand."""
    points = source.fetch(pool.key, hours[0], hours[-1] + timedelta(hours=1))
    if points:
        return np.array([p.value for p in points], dtype=np.float64)
    base = pool.ondemand * (1.0 - pool.savings_pct / 100.0)
    path = base * np.array([spot_multiplier(pool.key, h) for h in hours])
    return np.minimum(path, pool.ondemand)


def hourly_hazard(
    pool: Pool, prices: NDArray[np.float64], hours: list[datetime], label: LabelModel
) -> NDArray[np.float64]:
    """The label model's hazard per hour (NaN for the first 168 hours, which lack a week)."""
    window = sf.HISTORY_HOURS
    total = np.concatenate([[0.0], np.cumsum(prices)])
    weekly = np.full(len(prices), np.nan)
    weekly[window:] = (total[window:-1] - total[: -window - 1]) / window
    pressure = label.beta_rise * np.log(prices / weekly)
    pressure += label.beta_ratio * (prices / pool.ondemand - label.reference_ratio)
    hazard: NDArray[np.float64] = np.exp(pressure + label.clock_effect(hours))
    return bucket_hazard_per_hour(pool.bucket) * hazard


def interruption_rows(
    pools: Sequence[Pool], window: Window, config: SpotConfig, report: Report | None = None
) -> Rows:
    """One row per simulated launch: features, the drawn label, its true probability."""
    hours, source, horizon = window.price_hours(), SyntheticSource(), config.label.horizon_hours
    launches = np.arange(sf.HISTORY_HOURS, len(hours) - horizon + 1, config.launch_every_hours)
    parts = np.array([window.part(hours[i], horizon) for i in launches], np.int8)
    launches, parts = launches[parts >= 0], parts[parts >= 0]
    blocks = []
    for k, pool in enumerate(pools):
        prices = pool_prices(pool, hours, source)
        hazard = np.nan_to_num(hourly_hazard(pool, prices, hours, config.label))
        cumulative = np.concatenate([[0.0], np.cumsum(hazard)])
        probability = 1.0 - np.exp(-(cumulative[launches + horizon] - cumulative[launches]))
        drawn = np.random.default_rng([config.seed, 2, k]).random(len(launches)) < probability
        hide = np.random.default_rng([config.seed, 3, k])
        x = np.empty((len(launches), len(sf.INTERRUPTION_FEATURES)), np.float32)
        for row, (i, part) in enumerate(zip(launches, parts, strict=True)):
            x[row] = _launch_features(pool, prices, int(i), hours[i], part == FIT, config, hide)
        extra = {"true_probability": probability, "bucket": np.full(len(x), pool.bucket)}
        blocks.append(Rows(x, drawn.astype(np.float64), parts, extra))
        if report is not None:
            report("simulating launches", k + 1, len(pools))
    return Rows.concat(blocks)


def _launch_features(
    pool: Pool,
    prices: NDArray[np.float64],
    i: int,
    at: datetime,
    fit: bool,
    config: SpotConfig,
    rng: np.random.Generator,
) -> list[float]:
    """The serving features of one launch; on FIT rows each optional input may be hidden."""
    hide = rng.random(3) < config.input_dropout if fit else np.zeros(3, bool)
    history = prices[i - sf.HISTORY_HOURS : i]
    if hide[2]:
        history = history[len(history) - int(rng.integers(0, sf.HISTORY_HOURS)) :]
    values = sf.interruption_features(
        spot_price=float(prices[i]),
        ondemand_price=None if hide[1] else pool.ondemand,
        recent_spot_prices=history.tolist(),
        advisor_bucket=None if hide[0] else pool.bucket,
        savings_pct=None if hide[0] else pool.savings_pct,
        launch_time=at,
    )
    return [values[name] for name in sf.INTERRUPTION_FEATURES]


def price_series(catalog: Catalog) -> list[SeriesKey]:
    """Every spot price series of the shipped snapshot (its instance types x regions)."""
    prices = catalog.vm_prices
    pairs = prices[["provider", "region", "instance_type"]].drop_duplicates()
    return sorted(
        SeriesKey("spot_price", str(p), str(r), str(t)) for p, r, t in pairs.itertuples(index=False)
    )


def price_rows(keys: Sequence[SeriesKey], window: Window, report: Report | None = None) -> Rows:
    """One row per series and hour t of the launch window with t + h inside the data."""
    hours, source = window.price_hours(), SyntheticSource()
    h, h0 = sf.PRICE_HORIZON_HOURS, sf.HISTORY_HOURS
    at = np.arange(h0, len(hours) - h)
    parts = np.array([window.part(hours[t], h, calibrating=False) for t in at], np.int8)
    at, parts = at[parts >= 0], parts[parts >= 0]
    blocks = []
    for k, key in enumerate(keys):
        points = source.fetch(key, hours[0], hours[-1] + timedelta(hours=1))
        prices = np.array([p.value for p in points], dtype=np.float64)
        x = np.empty((len(at), len(sf.PRICE_FEATURES)), np.float32)
        for row, t in enumerate(at):
            values = sf.price_features(prices[t - h0 + 1 : t + 1].tolist(), hours[t])
            x[row] = [values[name] for name in sf.PRICE_FEATURES]
        extra = {
            "now": prices[at],
            "future": prices[at + h],
            "seasonal": prices[at + h - 24] * prices[at] / prices[at - 24],
            "series": np.full(len(at), k),
        }
        blocks.append(Rows(x, np.log(prices[at + h] / prices[at]), parts, extra))
        if report is not None:
            report("price histories", k + 1, len(keys))
    return Rows.concat(blocks)


def bamboo_check(catalog: Catalog, window: Window, label: LabelModel) -> list[dict[str, Any]]:
    """Observed preemptions per instance-hour in the Bamboo us-east-1 traces against the
    advisor bucket's hazard and the label model's mean hazard for the same pool."""
    traces = catalog.spot_availability.copy()
    traces["held"] = pd.to_numeric(traces["num_spot_instances_running"])
    hours, source = window.price_hours(), SyntheticSource()
    out = []
    for instance_type, rows in traces.groupby("instance_type", sort=True):
        preemptions = instance_hours = 0.0
        for _, trace in rows.groupby("trace_id"):
            held = trace["held"].to_numpy(float)
            at = trace["hours_since_start"].to_numpy(float)
            preemptions += float(np.clip(held[:-1] - held[1:], 0.0, None).sum())
            instance_hours += float((held[:-1] * np.diff(at)).sum())
        pool = pool_of(catalog, str(instance_type), "us-east-1")
        prices = pool_prices(pool, hours, source)
        simulated = np.nanmean(hourly_hazard(pool, prices, hours, label))
        out.append(
            {
                "instance_type": instance_type,
                "region": "us-east-1",
                "traces": int(rows.trace_id.nunique()),
                "preemptions": int(preemptions),
                "instance_hours": round(instance_hours, 2),
                "observed_per_instance_hour": preemptions / instance_hours,
                "advisor_bucket": pool.bucket,
                "bucket_hazard_per_hour": bucket_hazard_per_hour(pool.bucket),
                "simulated_mean_hazard_per_hour": float(simulated),
                "observed_over_simulated": preemptions / instance_hours / float(simulated),
            }
        )
    return out


def fingerprint(catalog: Catalog, *rows: Rows) -> str:
    """sha256 over the advisor table and the arrays the models were fitted on."""
    digest = hashlib.sha256(catalog.source_of("spot_advisor").read_bytes())
    for r in rows:
        digest.update(r.x.tobytes())
        digest.update(r.y.tobytes())
    return digest.hexdigest()
