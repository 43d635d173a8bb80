"""Spot answers: interruption probability for one instance, and a spot/on-demand cluster mix.

Both read market data from the store (filled by the gap filler), fall back to the embedded
snapshot where the store has nothing, and say how fresh and how synthetic their inputs were.
The interruption model is the tenant's active ``spot.interruption`` bundle; without one the
answer is the Spot Advisor bucket's hazard over the same 24 hours, and says so.
"""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from skyroute.errors import UnknownNameError
from skyroute.gapfill.store import fresh_until, hourly_history, latest_value
from skyroute.market import spot_features
from skyroute.market.points import SeriesKey, utc
from skyroute.market.sources.embedded import SNAPSHOT_DATE, snapshot_value
from skyroute.serve import model_registry
from skyroute.serve.auth import now
from skyroute.serve.predictors import predictor_for
from skyroute.serve.state import AppState
from skyroute.serve.tables import SpotRecord
from skyroute.world.catalog.loader import load_catalog
from skyroute.world.providers.spot import bucket_hazard_per_hour

HISTORY_HOURS = 168
HORIZON_HOURS = 24
#: Data older than this many days gives the lowest confidence factor.
STALE_DAYS = 60.0


@dataclass(frozen=True)
class MarketContext:
    """What the store knows of one instance type in one region at one moment."""

    provider: str
    history: list[float]
    ondemand: float | None
    fresh_until: date
    synthetic: bool


@functools.lru_cache(maxsize=1)
def _offered() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """(provider of each priced or advisor-listed instance type, regions of each provider)."""
    catalog = load_catalog()
    prices, advisor = catalog.vm_prices, catalog.spot_advisor
    providers = dict.fromkeys(map(str, advisor["instance_type"]), "aws")
    providers.update(
        zip(map(str, prices["instance_type"]), map(str, prices["provider"]), strict=True)
    )
    regions = {
        name: frozenset(map(str, prices.loc[prices["provider"] == name, "region"]))
        for name in set(providers.values())
    }
    regions["aws"] |= frozenset(map(str, advisor["region"]))
    return providers, regions


def provider_of(instance_type: str, region: str) -> str:
    """The provider of a known instance type; unknown names get a "did you mean"."""
    providers, regions = _offered()
    provider = providers.get(instance_type)
    if provider is None:
        raise UnknownNameError("instance type", instance_type, providers)
    if region not in regions[provider]:
        raise UnknownNameError(f"{provider} region", region, regions[provider])
    return provider


def market_context(
    session: Session, instance_type: str, region: str, at: datetime
) -> MarketContext:
    provider = provider_of(instance_type, region)
    spot = SeriesKey("spot_price", provider, region, instance_type)
    ondemand_key = SeriesKey("ondemand_price", provider, region, instance_type)
    history, synthetic = hourly_history(session, spot, at, HISTORY_HOURS)
    stored = latest_value(session, ondemand_key, at)
    ondemand = stored[0] if stored is not None else snapshot_value(ondemand_key)
    synthetic = synthetic or (stored is not None and stored[1])
    until, newest_synthetic = fresh_until(session, spot)
    fresh = min(until, utc(at)).date() if until else SNAPSHOT_DATE
    if not history:
        value = snapshot_value(spot)
        history = [value] if value is not None else []
    return MarketContext(provider, history, ondemand, fresh, synthetic or newest_synthetic)


def confidence(context: MarketContext, at: datetime) -> float:
    """How much the inputs deserve trust: fresh data and a full week of history score 1.

    freshness falls linearly from 1 (data up to the launch day) to 0.2 at STALE_DAYS old;
    history counts hours of the past week that the store has.
    """
    stale = max(0.0, (utc(at).date() - context.fresh_until).days)
    freshness = max(0.2, 1.0 - 0.8 * stale / STALE_DAYS)
    history = 0.5 + 0.5 * min(1.0, len(context.history) / HISTORY_HOURS)
    return round(freshness * history, 4)


def interruption_probability(
    session: Session,
    state: AppState,
    tenant_id: str,
    instance_type: str,
    region: str,
    spot_price: float | None,
    at: datetime,
    context: MarketContext | None = None,
) -> dict[str, Any]:
    """P(interrupted within 24 h of ``at``) with its inputs' freshness, model and method.

    ``context``: the market at ``at`` when the caller has read it already (live predictions
    read it once for both their kinds).
    """
    context = context or market_context(session, instance_type, region, at)
    advisor = spot_features.advisor_info(instance_type, region)
    price = spot_price if spot_price is not None else (context.history or [0.0])[-1]
    model_id = model_registry.active_by_kind(session, tenant_id).get("spot.interruption")
    if model_id is not None:
        split = model_registry.current_split(session, tenant_id, model_id)
        version = model_registry.pick_version(split, model_id, f"{instance_type}@{region}")
        row = model_registry.get_version(session, tenant_id, model_id, version)
        features = spot_features.interruption_features(
            spot_price=price,
            ondemand_price=context.ondemand,
            recent_spot_prices=context.history,
            advisor_bucket=advisor[0] if advisor else None,
            savings_pct=advisor[1] if advisor else None,
            launch_time=at,
        )
        names = list(row.manifest.get("features") or spot_features.INTERRUPTION_FEATURES)
        x = np.asarray([[features[n] for n in names]], dtype=np.float32)
        out = np.asarray(predictor_for(state, row).predict(x), dtype=np.float64).reshape(1, -1)
        probability = float(np.clip(out[0, -1], 0.0, 1.0))
        method, model_version = "model", f"{model_id}@{version}"
    else:
        bucket = advisor[0] if advisor else 2
        probability = 1.0 - math.exp(-bucket_hazard_per_hour(bucket) * HORIZON_HOURS)
        method = "advisor-bucket" if advisor else "advisor-bucket (median bucket: not listed)"
        model_version = None
    return {
        "instance_type": instance_type,
        "region": region,
        "provider": context.provider,
        "interruption_probability": round(probability, 6),
        "horizon_hours": HORIZON_HOURS,
        "confidence": confidence(context, at),
        "data_fresh_until": context.fresh_until.isoformat(),
        "synthetic": context.synthetic,
        "method": method,
        "model_version": model_version,
        "spot_price": price,
        "ondemand_price": context.ondemand,
        "history_hours": len(context.history),
        "launch_time": utc(at).isoformat(),
    }


def record(
    session: Session, tenant_id: str, kind: str, instance_type: str, region: str, value: float,
    payload: dict[str, Any],
) -> SpotRecord:  # fmt: skip
    """Keep an answer in the tenant's spot time series (committed by the caller, who then
    publishes it with ``publish``)."""
    row = SpotRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        kind=kind,
        instance_type=instance_type,
        region=region,
        at=now(),
        value=value,
        payload=payload,
    )
    session.add(row)
    return row


def publish(state: AppState, rows: list[SpotRecord]) -> None:
    """Send committed spot records to the predictions stream (from a worker thread)."""
    if state.live is not None and rows:
        from skyroute.serve.live.events import PredictionEvent, prediction_event_of

        events = [prediction_event_of(row, state.live.worker) for row in rows]
        state.live.publish_from_thread(PredictionEvent.STREAM, events)


def candidates(
    session: Session, state: AppState, tenant_id: str, regions: list[str], at: datetime
) -> list[dict[str, Any]]:
    """Every priced instance type in ``regions`` (all when empty) with its current prices."""
    prices = load_catalog().vm_prices
    known = set(prices["region"])
    for region in regions:
        if region not in known:
            raise UnknownNameError("region", region, known)
    rows = prices if not regions else prices[prices["region"].isin(regions)]
    pools = rows.groupby(["provider", "instance_type", "region"], as_index=False).agg(
        vcpus=("vcpus", "first"), memory_gib=("memory_gib", "first")
    )
    out = []
    for pool in pools.to_dict("records"):
        instance_type, region = str(pool["instance_type"]), str(pool["region"])
        answer = interruption_probability(
            session, state, tenant_id, instance_type, region, None, at
        )
        spot = answer["spot_price"] or None
        out.append(
            {
                "instance_type": instance_type,
                "provider": str(pool["provider"]),
                "region": region,
                "vcpus": float(pool["vcpus"]),
                "memory_gib": float(pool["memory_gib"]),
                "ondemand_price": answer["ondemand_price"],
                "spot_price": spot,
                "interruption_probability": answer["interruption_probability"] if spot else None,
                "synthetic": answer["synthetic"],
                "data_fresh_until": answer["data_fresh_until"],
            }
        )
    return [c for c in out if c["ondemand_price"]]


def launch_time(value: datetime | None) -> datetime:
    return utc(value) if value is not None else now()
