"""Error over time: realised against expected outcomes per time bucket, engine and model
versions (the A/B arms), from the actuals joined to their decisions.

Buckets are by the actual's ``observed_at`` (when the decision ran), ``bucket_minutes`` wide
and aligned to the Unix epoch. Realised carbon is the mean of the actuals that posted
``carbon_g``; none posted, it is null (never estimated).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.serve.live.events import utc
from skyroute.serve.tables import Actual, Decision


def arm_label(versions: dict[str, Any] | None) -> str:
    """The model versions of a decision as the A/B arm label ("-" for none)."""
    return ",".join(f"{k}={v}" for k, v in sorted((versions or {}).items())) or "-"


def series(
    session: Session, tenant_id: str, bucket_minutes: int, engine: str | None
) -> list[dict[str, Any]]:
    """The buckets, oldest first, then by engine and arm (one query)."""
    query = (
        select(
            Decision.engine, Decision.model_versions, Decision.response,
            Actual.cost_usd, Actual.latency_ms, Actual.carbon_g, Actual.observed_at,
        )
        .join(Actual, Actual.decision_id == Decision.id)
        .where(Decision.tenant_id == tenant_id)
    )  # fmt: skip
    if engine is not None:
        query = query.where(Decision.engine == engine)
    width = bucket_minutes * 60
    buckets: dict[tuple[int, str, str], list[Any]] = defaultdict(list)
    for row in session.execute(query):
        start = int(utc(row.observed_at).timestamp()) // width * width
        buckets[(start, str(row.engine), arm_label(row.model_versions))].append(row)
    return [_bucket(key, rows) for key, rows in sorted(buckets.items())]


def _mean(values: Iterable[Any]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _bucket(key: tuple[int, str, str], rows: list[Any]) -> dict[str, Any]:
    start, engine, label = key
    expected = [(row.response or {}).get("expected") or {} for row in rows]
    latency = [
        (e.get("latency_ms"), row.latency_ms)
        for e, row in zip(expected, rows, strict=True)
        if row.latency_ms is not None and e.get("latency_ms") is not None
    ]
    return {
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "engine": engine,
        "model_versions": label,
        "n": len(rows),
        "expected_cost_usd": _mean(e.get("cost_usd") for e in expected),
        "realised_cost_usd": _mean(row.cost_usd for row in rows),
        "expected_latency_ms": _mean(e.get("latency_ms") for e in expected),
        "realised_latency_ms": _mean(row.latency_ms for row in rows),
        "expected_carbon_g": _mean(e.get("carbon_g") for e in expected),
        "realised_carbon_g": _mean(row.carbon_g for row in rows),
        "latency_error_ms": _mean(real - exp for exp, real in latency),
    }
