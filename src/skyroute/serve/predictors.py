"""Loaded models, one per stored bundle version, cached for the life of the process."""

from __future__ import annotations

from typing import Any

from skyroute.serve.bundle_store import local_bundle
from skyroute.serve.state import AppState
from skyroute.serve.tables import ModelVersion


def predictor_for(state: AppState, row: ModelVersion) -> Any:
    """The loaded bundle of ``row`` (hashes and shapes checked on first load)."""
    cached = state.predictors.get(row.id)
    if cached is None:
        from skyroute.bundles import read_bundle

        path = local_bundle(state.settings, state.sessions, row)
        bundle = read_bundle(path, allow_unsafe=state.settings.allow_unsafe_models)
        cached = bundle.predictor()
        state.predictors[row.id] = cached
    return cached
