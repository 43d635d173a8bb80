"""The ``hierarchical`` engine: strategic bundle → tactical bundle → operational forecast.

Each layer uses the tenant's active bundle of its kind and falls back to the world model's
greedy choice where none is active (or it fails to load), saying so in the explanation:

* **operational** (``forecast.load``): predicts the function's calls per minute over the next
  12 minutes from its last ``FORECAST_STEPS`` minutes of decisions (counts per minute, oldest
  first, input shape [1, 12]); the upper layers read that forecast (and the cold-start odds it
  implies per candidate) next to the caller's stated rate. Without it they read the stated rate.
* **strategic** (``placement.strategic``): scores the 3 providers from the strategic
  environment's observation (docs/environments.md); the best allowed provider wins.
* **tactical** (``placement.tactical``): scores the provider's 8 candidates (its placements
  ranked by expected objective for the caller) from the tactical environment's observation.

The strategic and tactical layers run through the simulator's own policy adapter
(:class:`skyroute.world.policies.learned.HierarchicalPolicy`), which also resolves the chosen
region and memory to its best platform and purchase; a bundle therefore decides here exactly
as it did in ``skyroute evaluate``. The decide pipeline then holds the choice to the request's
hard constraints (greedy, flagged, where it breaks one); a model that fails at predict time
makes its rows flagged greedy fallbacks, never an error.

An active bundle that cannot be used -- it fails to load, its observation contract is not the one
this code builds (docs/environments.md), or its model raises or returns malformed scores at
predict time -- never turns into an error for the caller: the decisions it touched are greedy's,
flagged ``fallback`` with the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.bundles.manifest import OUTPUT_WIDTHS
from skyroute.serve import model_registry
from skyroute.serve.auth import now
from skyroute.serve.bundle_contracts import observation_mismatch
from skyroute.serve.candidates import DecisionBatch
from skyroute.serve.engines.base import EngineContext, EngineInfo, Proposal
from skyroute.serve.predictors import predictor_for
from skyroute.serve.state import AppState
from skyroute.serve.tables import Decision
from skyroute.serve.tracing import NO_TRACING, Attributes, Tracing

FORECAST_STEPS = 12
LAYERS = ("forecast.load", "placement.strategic", "placement.tactical")


class LayerFailed(Exception):
    """A layer's model failed at predict time; the decisions it touched fall back, flagged."""

    def __init__(self, kind: str, label: str, reason: str) -> None:
        super().__init__(f"{kind} model {label} failed at predict time ({reason})")


class CheckedPredictor:
    """A layer's model whose exceptions and malformed scores become :class:`LayerFailed`.

    Whatever the model raises (a ``BundleError`` for a wrong input width included) is the
    bundle's fault, not the caller's, so it must not reach the API's error mapping. Traced, each
    predict is a span named after the layer (``predict placement.tactical``).
    """

    def __init__(self, kind: str, label: str, inner: Any, tracing: Tracing = NO_TRACING) -> None:
        self.kind, self.label, self.inner = kind, label, inner
        self.tracing = tracing

    def predict(self, x: NDArray[Any]) -> NDArray[np.float64]:
        rows = int(np.shape(x)[0])
        attributes: Attributes = {
            "skyroute.model.kind": self.kind,
            "skyroute.model.version": self.label,
            "skyroute.batch.size": rows,
        }
        with self.tracing.span(f"predict {self.kind}", attributes):
            try:
                out = np.asarray(self.inner.predict(x), dtype=np.float64)
            except Exception as exc:
                raise LayerFailed(self.kind, self.label, f"{type(exc).__name__}: {exc}") from exc
        allowed = OUTPUT_WIDTHS.get(self.kind)
        width = out.size // rows if rows and out.ndim and out.shape[0] == rows else -1
        if width < 1 or (allowed is not None and width not in allowed):
            raise LayerFailed(self.kind, self.label, f"scores of shape {out.shape} for {rows} rows")
        if not np.isfinite(out).all():
            raise LayerFailed(self.kind, self.label, "non-finite scores")
        return out


class Layers:
    """The tenant's active layer models for one batch: splits read once, bundles loaded once."""

    def __init__(self, session: Session, state: AppState, tenant_id: str) -> None:
        self.session, self.state, self.tenant_id = session, state, tenant_id
        self.active = model_registry.active_by_kind(session, tenant_id)
        self.splits = {
            kind: model_registry.current_split(session, tenant_id, model_id)
            for kind, model_id in self.active.items()
            if kind in LAYERS
        }

    def choose(self, caller_key: str) -> tuple[tuple[str, str], ...]:
        """(kind, version) of every active layer for this caller (sticky A/B)."""
        return tuple(
            (kind, model_registry.pick_version(split, self.active[kind], caller_key))
            for kind, split in self.splits.items()
            if split
        )

    def load(
        self, chosen: tuple[tuple[str, str], ...]
    ) -> tuple[dict[str, Any], dict[str, str], list[str], list[str]]:
        """(predictor per kind, "model@version" per kind, notes, failures) for one choice.

        A failure is an active layer that cannot be used; its decisions are flagged.
        """
        predictors: dict[str, Any] = {}
        versions: dict[str, str] = {}
        notes: list[str] = []
        failures: list[str] = []
        picked = dict(chosen)
        for kind in LAYERS:
            if kind not in picked:
                notes.append(f"{kind}: no active model, greedy")
                continue
            model_id, version = self.active[kind], picked[kind]
            label = f"{model_id}@{version}"
            row = model_registry.get_version(self.session, self.tenant_id, model_id, version)
            problem = observation_mismatch(kind, row.manifest, self.state.world.providers)
            if problem is None:
                try:
                    model = predictor_for(self.state, row)
                    predictors[kind] = CheckedPredictor(kind, label, model, self.state.tracing)
                    versions[kind] = label
                    continue
                except Exception as exc:  # a broken bundle must not take the server down
                    problem = f"it failed to load ({type(exc).__name__}: {exc})"
            self.state.metrics.model_load_failures.labels(kind).inc()
            notes.append(f"{kind}: {label} cannot be used, greedy")
            failures.append(f"{kind} model {label} cannot be used: {problem}")
        return predictors, versions, notes, failures


def _recent_counts(session: Session, tenant_id: str, function_id: str) -> NDArray[np.float32]:
    """Decisions per minute for ``function_id`` over the last FORECAST_STEPS minutes."""
    end = now()
    start = end - timedelta(minutes=FORECAST_STEPS)
    times = session.scalars(
        select(Decision.created_at).where(
            Decision.tenant_id == tenant_id,
            Decision.function_id == function_id,
            Decision.created_at >= start,
        )
    ).all()
    counts = np.zeros(FORECAST_STEPS, dtype=np.float32)
    for t in times:
        t = t if t.tzinfo else t.replace(tzinfo=end.tzinfo)
        k = min(int((t - start).total_seconds() // 60), FORECAST_STEPS - 1)
        counts[max(k, 0)] += 1
    return counts


class HierarchicalEngine:
    info = EngineInfo(
        engine_id="hierarchical",
        name="hierarchical",
        version="2",
        description="Strategic → tactical → operational bundles; greedy where a layer is missing.",
    )

    def decide(self, batch: DecisionBatch, ctx: EngineContext) -> list[Proposal]:
        """Requests that land on the same model versions go through together."""
        layers = Layers(ctx.session, ctx.state, ctx.tenant_id)
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for i, item in enumerate(batch.items):
            groups.setdefault(layers.choose(item.caller_key or item.function.id), []).append(i)
        proposals: list[Proposal | None] = [None] * len(batch.items)
        for chosen, rows in groups.items():
            predictors, versions, notes, failures = layers.load(chosen)
            try:
                decided = _decide_group(ctx, batch, rows, predictors, versions, notes)
            except Exception as exc:  # a model failing at predict time: flagged fallback
                failures = [str(exc) if isinstance(exc, LayerFailed) else _failed(exc)]
            if failures:
                reason = "; ".join(failures)[:500]
                decided = [
                    Proposal(None, "", model_versions=versions, fallback_reason=reason)
                    for _ in rows
                ]
            for i, proposal in zip(rows, decided, strict=True):
                proposals[i] = proposal
        return [p for p in proposals if p is not None]


def _failed(exc: Exception) -> str:
    return f"a model failed at predict time ({type(exc).__name__}: {exc})"


def _decide_group(
    ctx: EngineContext,
    batch: DecisionBatch,
    rows: list[int],
    predictors: dict[str, Any],
    versions: dict[str, str],
    notes: list[str],
) -> list[Proposal]:
    from skyroute.world.policies.learned import HierarchicalPolicy
    from skyroute.world.requests import take_requests

    world = batch.world
    if "placement.strategic" not in predictors and "placement.tactical" not in predictors:
        explanation = "hierarchical: " + "; ".join(notes)
        return [Proposal(None, explanation, model_versions=versions) for _ in rows]
    notes = list(notes)
    index = np.asarray(rows, dtype=np.int64)
    requests = take_requests(batch.requests, index)
    rates = requests.rate_per_min
    if "forecast.load" in predictors:
        items = [batch.items[i] for i in rows]
        history = np.stack(
            [_recent_counts(ctx.session, ctx.tenant_id, r.function.id) for r in items]
        )
        predicted = np.asarray(predictors["forecast.load"].predict(history), dtype=np.float64)
        rates = np.maximum(predicted.reshape(len(items), -1).mean(axis=1), 0.0)
        if not np.isfinite(rates).all():
            raise ValueError("the load forecast is not finite")
        notes.append("forecast.load: next 12 minutes from the last 12")
    # The simulator's policy adapter decides, per objective group of the batch.
    policy = HierarchicalPolicy(
        predictors.get("placement.strategic"), predictors.get("placement.tactical")
    )
    chosen = np.empty(len(rows), dtype=np.int64)
    for group in batch.groups:
        mine = np.flatnonzero(np.isin(index, group.rows))
        if mine.size:
            part = take_requests(requests, mine)
            chosen[mine] = policy.decide_with_forecast(part, world, group.objective, rates[mine])
    explanation = "hierarchical: " + "; ".join(notes or ["all layers learned"])
    return [Proposal(int(c), explanation, model_versions=versions) for c in chosen]
