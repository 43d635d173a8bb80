"""The ``hierarchical`` engine: strategic bundle → tactical bundle → operational forecast.

Each layer uses the tenant's active bundle of its kind and falls back to the world model's
greedy choice where none is active (or it fails to load), saying so in the explanation:

* **operational** (``forecast.load``): predicts the function's calls per minute from its last
  ``FORECAST_STEPS`` minutes of decisions (counts per minute, oldest first, input shape
  [1, 12]); the forecast replaces the caller's stated rate, which sets the expected idle time
  and so the cold-start odds the upper layers see.
* **strategic** (``placement.strategic``): scores the 3 providers from the strategic
  environment's observation (docs/environments.md); the best allowed provider wins.
* **tactical** (``placement.tactical``): scores the 24 actions (4 nearest regions × 6 memory
  sizes, functions on demand) from the tactical environment's observation.

Observations are built by the same functions the environments use, so a bundle trained on them
sees identical features here. The objective is normalised by the reference placement's mean
over the batch (the environments use the trace's mean).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from skyroute.serve import placement, registry
from skyroute.serve.auth import now
from skyroute.serve.schemas import DecideRequest
from skyroute.serve.state import AppState
from skyroute.serve.tables import Decision, ModelVersion
from skyroute.world.model import World
from skyroute.world.objective import allowed_placements, with_trace_scale

FORECAST_STEPS = 12
LAYERS = ("forecast.load", "placement.strategic", "placement.tactical")


def _predictor(state: AppState, row: ModelVersion) -> Any:
    """The loaded bundle of ``row`` (cached per version; hashes checked on first load)."""
    cached = state.predictors.get(row.id)
    if cached is None:
        from skyroute.bundles import read_bundle

        bundle = read_bundle(Path(row.path), allow_unsafe=state.settings.allow_unsafe_models)
        cached = bundle.predictor()
        state.predictors[row.id] = cached
    return cached


class Layers:
    """The tenant's active layer models for one batch: splits read once, bundles loaded once."""

    def __init__(self, session: Session, state: AppState, tenant_id: str) -> None:
        self.session, self.state, self.tenant_id = session, state, tenant_id
        self.active = registry.active_by_kind(session, tenant_id)
        self.splits = {
            kind: registry.current_split(session, tenant_id, model_id)
            for kind, model_id in self.active.items()
            if kind in LAYERS
        }

    def choose(self, caller_key: str) -> tuple[tuple[str, str], ...]:
        """(kind, version) of every active layer for this caller (sticky A/B)."""
        return tuple(
            (kind, registry.pick_version(split, self.active[kind], caller_key))
            for kind, split in self.splits.items()
            if split
        )

    def load(
        self, chosen: tuple[tuple[str, str], ...]
    ) -> tuple[dict[str, Any], dict[str, str], list[str]]:
        """(predictor per kind, "model@version" per kind, notes) for one choice of versions."""
        predictors: dict[str, Any] = {}
        versions: dict[str, str] = {}
        notes: list[str] = []
        picked = dict(chosen)
        for kind in LAYERS:
            if kind not in picked:
                notes.append(f"{kind}: no active model, greedy")
                continue
            model_id, version = self.active[kind], picked[kind]
            row = registry.get_version(self.session, self.tenant_id, model_id, version)
            try:
                predictors[kind] = _predictor(self.state, row)
                versions[kind] = f"{model_id}@{version}"
            except Exception as exc:  # a broken bundle must not take the server down
                self.state.metrics.model_load_failures.labels(kind).inc()
                notes.append(f"{kind}: {model_id}@{version} failed to load ({exc}), greedy")
        return predictors, versions, notes


_CANDIDATES: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_]]] = {}


def _candidates(
    world: World, build: Callable[[World], tuple[NDArray[np.int64], NDArray[np.bool_]]]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The tactical candidate table of ``world``, built once (it costs ~75 ms)."""
    if id(world) not in _CANDIDATES:
        _CANDIDATES[id(world)] = build(world)
    return _CANDIDATES[id(world)]


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


def hierarchical(
    session: Session, state: AppState, tenant_id: str, items: Sequence[DecideRequest]
) -> list[placement.Answer]:
    """Decide ``items``; requests that land on the same model versions go through together."""
    layers = Layers(session, state, tenant_id)
    greedy = placement.greedy(items, state.world)
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(layers.choose(item.caller_key or item.function.id), []).append(i)
    answers: list[placement.Answer | None] = [None] * len(items)
    for chosen, rows in groups.items():
        predictors, versions, notes = layers.load(chosen)
        group = [items[i] for i in rows]
        fallbacks = [greedy[i] for i in rows]
        for i, answer in zip(
            rows,
            _decide_group(session, state, tenant_id, group, fallbacks, predictors, versions, notes),
            strict=True,
        ):
            answers[i] = answer
    return [a for a in answers if a is not None]


def _decide_group(
    session: Session,
    state: AppState,
    tenant_id: str,
    items: list[DecideRequest],
    fallbacks: list[placement.Answer],
    predictors: dict[str, Any],
    versions: dict[str, str],
    notes: list[str],
) -> list[placement.Answer]:
    from skyroute.world.envs.dynamics import (
        EnvData,
        candidate_table,
        provider_summary,
        strategic_observation,
        tactical_candidates,
        tactical_observation,
    )

    world = state.world
    if "placement.strategic" not in predictors and "placement.tactical" not in predictors:
        for answer in fallbacks:
            answer.explanation = "hierarchical: " + "; ".join(notes)
            answer.model_versions = versions
        return fallbacks
    notes = list(notes)
    if "forecast.load" in predictors:
        history = np.stack([_recent_counts(session, tenant_id, r.function.id) for r in items])
        rates = np.asarray(predictors["forecast.load"].predict(history), dtype=np.float64)
        rates = np.maximum(rates.reshape(len(items), -1)[:, 0], 0.0)
        items = [
            r.model_copy(
                update={"function": r.function.model_copy(update={"rate_per_min": float(q)})}
            )
            for r, q in zip(items, rates, strict=True)
        ]
        notes.append("forecast.load: rate from the last 12 minutes")
    requests = placement.to_requests(items, world)
    candidates, exact = _candidates(world, candidate_table)
    data = EnvData(
        world=world,
        objective=with_trace_scale(
            replace(placement.objective_of(items[0], world), scale=None), requests.expected, world
        ),
        actual=requests.expected,
        expected=requests.expected,
        idle_s=requests.expected_idle_s,
        candidates=candidates,
        exact=exact,
    )
    rows = np.arange(len(items), dtype=np.int64)
    best, _ = provider_summary(data, rows)
    allowed = np.stack(
        [allowed_placements(world, placement.objective_of(r, world).constraints) for r in items]
    )
    provider_ok = np.take_along_axis(allowed, best, axis=1)
    if "placement.strategic" in predictors:
        scores = np.asarray(
            predictors["placement.strategic"].predict(strategic_observation(data, rows)),
            dtype=np.float64,
        ).reshape(len(items), -1)[:, : len(world.providers)]
        provider = np.argmax(np.where(provider_ok, scores, -np.inf), axis=1)
    else:
        provider = world.placements.provider[[a.placement for a in fallbacks]].astype(np.int64)
    chosen = best[rows, provider]
    if "placement.tactical" in predictors:
        options = tactical_candidates(data, rows, provider)
        scores = np.asarray(
            predictors["placement.tactical"].predict(tactical_observation(data, rows, provider)),
            dtype=np.float64,
        ).reshape(len(items), -1)[:, : options.shape[1]]
        ok = (
            np.take_along_axis(allowed, options, axis=1) & exact[requests.expected.origin, provider]
        )
        pick = np.argmax(np.where(ok, scores, -np.inf), axis=1)
        chosen = np.where(ok.any(axis=1), options[rows, pick], chosen)
    expected = placement.expected_dicts(items, [int(c) for c in chosen], world)
    answers = []
    for item, fallback, index, exp in zip(items, fallbacks, chosen, expected, strict=True):
        limits = item.constraints
        too_slow = limits.max_latency_ms is not None and exp["latency_ms"] > limits.max_latency_ms
        too_dear = limits.max_cost is not None and exp["cost_usd"] > limits.max_cost
        own = notes + (
            ["learned choice broke the latency/cost limit, greedy"] if too_slow or too_dear else []
        )
        answers.append(
            placement.Answer(
                placement=fallback.placement if too_slow or too_dear else int(index),
                explanation="hierarchical: " + "; ".join(own or ["all layers learned"]),
                model_versions=versions,
            )
        )
    return answers
