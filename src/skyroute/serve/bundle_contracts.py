"""Placement bundles must carry the observation contract this server's code builds.

A placement model reads an environment's observation (skyroute.world.observations). A bundle
trained on another layout -- or exported before layouts were versioned -- would upload, activate
and then fail or, worse, decide on misread columns. It is refused at upload and at activation
with a 422 that names the difference, and the hierarchical engine treats such an active bundle
as a flagged fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from skyroute.serve.errors import ApiError
from skyroute.world.observations import contract_for_kind
from skyroute.world.providers import PROVIDER_ORDER

RETRAIN = "retrain with this version's `skyroute train hierarchy` and upload the new bundle"


def observation_mismatch(
    kind: str, manifest: Mapping[str, Any], providers: Sequence[str] = PROVIDER_ORDER
) -> str | None:
    """Why a bundle of ``kind`` with ``manifest`` (bundle.json as a dict) cannot be served here,
    or None when its observation matches (or its kind reads none)."""
    contract = contract_for_kind(kind, providers)
    if contract is None:
        return None
    return contract.mismatch(manifest.get("observation"), manifest.get("features") or ())


def check_observation(
    kind: str,
    manifest: Mapping[str, Any],
    label: str,
    providers: Sequence[str] = PROVIDER_ORDER,
) -> None:
    """422 ``bundle_invalid`` naming the mismatch, for upload and activation."""
    problem = observation_mismatch(kind, manifest, providers)
    if problem is not None:
        raise ApiError(422, "bundle_invalid", f"{kind} bundle {label}: {problem}", RETRAIN)
