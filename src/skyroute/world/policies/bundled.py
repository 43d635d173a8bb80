"""Learned policies from a folder of bundles, so any trace can be replayed under them.

``skyroute train hierarchy --out DIR`` writes ``DIR/strategic``, ``DIR/tactical`` and
``DIR/forecast``; ``skyroute simulate --bundles DIR`` turns them into the ``hierarchical``
policy next to the baselines. Every bundle is checked before any work: the right kind in the
right place, and the observation layout this code builds (a bundle from an older layout is
refused with the command that retrains it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skyroute.errors import ConfigError
from skyroute.world.policies.base import Policy

#: Names of the policies a bundle folder provides.
LEARNED_POLICIES: tuple[str, ...] = ("hierarchical",)
#: Sub-folder → the bundle kind it must hold; the forecast is optional.
LAYERS: dict[str, str] = {
    "strategic": "placement.strategic",
    "tactical": "placement.tactical",
    "forecast": "forecast.load",
}
RETRAIN = "retrain with `skyroute train hierarchy --trace SPEC --out DIR`"


def learned_policies(directory: Path, providers: Sequence[str]) -> dict[str, Policy]:
    """``{"hierarchical": policy}`` from the bundles in ``directory``; ConfigError if unusable."""
    from skyroute.bundles import read_bundle
    from skyroute.bundles.errors import BundleError
    from skyroute.world.observations import contract_for_kind
    from skyroute.world.policies.learned import HierarchicalPolicy

    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder of bundles", RETRAIN)
    predictors = {}
    for folder, kind in LAYERS.items():
        path = directory / folder
        if not (path / "bundle.json").is_file():
            if folder == "forecast":
                continue
            raise ConfigError(f"{path} holds no bundle (bundle.json is missing)", RETRAIN)
        try:
            bundle = read_bundle(path)
        except BundleError as exc:
            raise ConfigError(f"{path}: {exc}", RETRAIN) from exc
        manifest = bundle.manifest
        if manifest.kind != kind:
            raise ConfigError(
                f"{path} holds a {manifest.kind!r} bundle where a {kind!r} one belongs",
                f"pass the folder `skyroute train hierarchy` wrote; {RETRAIN}",
            )
        contract = contract_for_kind(kind, providers)
        if contract is not None:
            problem = contract.mismatch(manifest.observation, manifest.features)
            if problem is not None:
                raise ConfigError(f"{path}: {problem}", RETRAIN)
        predictors[folder] = bundle.predictor()
    return {
        "hierarchical": HierarchicalPolicy(
            predictors["strategic"], predictors["tactical"], predictors.get("forecast")
        )
    }
