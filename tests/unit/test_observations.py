"""Observation contracts: the environments and the server's policy build exactly the layouts the
contracts name, bundles record them, and a mismatch is said in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bundlemaker import mlp_bundle
from skyroute.bundles import BundleError, Manifest, read_bundle
from skyroute.errors import ConfigError
from skyroute.world.dynamics import DEFAULT_TRACE, default_trace, load_env_data
from skyroute.world.envs.strategic import StrategicEnv
from skyroute.world.envs.tactical import TacticalEnv
from skyroute.world.objective import Objective
from skyroute.world.observations import (
    ObservationContract,
    contract_for_kind,
    strategic_contract,
    tactical_contract,
)
from skyroute.world.policies.learned import HierarchicalPolicy
from skyroute.world.providers import PROVIDER_ORDER
from skyroute.world.requests import requests_from_trace


def test_the_environments_observe_what_their_contracts_name() -> None:
    rows = np.arange(5, dtype=np.int64)
    strategic, tactical = StrategicEnv(), TacticalEnv()
    s_contract = strategic_contract(strategic.data.world.providers)
    assert strategic.observation_space.shape == (s_contract.width,) == (50,)
    assert strategic.observe(rows).shape == (5, s_contract.width)
    assert tactical.observation_space.shape == (tactical_contract().width,) == (115,)
    assert tactical.observe(rows).shape == (5, tactical_contract().width)
    assert s_contract.features[11:15] == (
        "aws.log2_cost_ratio",
        "aws.log2_latency_ratio",
        "aws.log2_carbon_ratio",
        "aws.error_prob",
    )
    assert tactical_contract().features[-1] == "rank8.forecast_cold_prob"


class Recording:
    """A layer model that remembers the width it was fed and prefers the first output."""

    def __init__(self, n_out: int) -> None:
        self.n_out = n_out
        self.widths: list[int] = []

    def predict(self, x: Any) -> Any:
        self.widths.append(np.shape(x)[1])
        return np.tile(np.arange(self.n_out, 0, -1, dtype=np.float64), (len(x), 1))


def test_the_served_policy_feeds_each_layer_its_contract_width() -> None:
    trace = default_trace(DEFAULT_TRACE)
    world = load_env_data(trace).world
    requests = requests_from_trace(trace, world)
    strategic, tactical = Recording(3), Recording(8)
    HierarchicalPolicy(strategic, tactical).decide(requests, world, Objective())
    assert strategic.widths and tactical.widths
    assert set(strategic.widths) == {strategic_contract(world.providers).width}
    assert set(tactical.widths) == {tactical_contract().width}


def test_a_matching_contract_has_no_mismatch_and_others_are_named() -> None:
    contract = tactical_contract()
    entry, features = contract.manifest_entry(), contract.features
    assert contract.mismatch(entry, features) is None
    assert "records no observation contract" in (contract.mismatch({}, features) or "")
    assert "records no observation contract" in (contract.mismatch(None, ()) or "")
    older = contract.mismatch(entry | {"version": 0}, features) or ""
    assert "tactical observation v0 (115 features)" in older
    assert "this server builds the tactical observation v2 (115 features)" in older
    fewer = contract.mismatch(entry, features[:-5]) or ""
    assert fewer.startswith("the bundle lists 110 features;"), fewer
    swapped = (*features[:11], features[12], features[11], *features[13:])
    assert "column 11 is 'rank1.log2_latency_ratio' in the bundle" in (
        contract.mismatch(entry, swapped) or ""
    )


def test_only_placement_kinds_have_a_contract() -> None:
    assert contract_for_kind("placement.strategic", PROVIDER_ORDER) == strategic_contract(
        PROVIDER_ORDER
    )
    assert contract_for_kind("placement.tactical", PROVIDER_ORDER) == tactical_contract()
    assert contract_for_kind("forecast.load", PROVIDER_ORDER) is None


def test_a_bundle_records_its_contract_and_reads_it_back(tmp_path: Path) -> None:
    manifest = read_bundle(mlp_bundle(tmp_path / "s", n_in=50)).manifest
    assert manifest.observation == {"name": "strategic", "version": 2}
    assert manifest.features == strategic_contract(PROVIDER_ORDER).features
    assert Manifest.from_json(manifest.to_json()) == manifest
    plain = read_bundle(mlp_bundle(tmp_path / "f", kind="forecast.load", n_out=1)).manifest
    assert plain.observation == {} and plain.features == ()


@pytest.mark.parametrize(
    ("observation", "features", "message"),
    [
        ([], ("a",), "must be an object"),
        ({"name": "tactical"}, ("a",), "needs exactly 'name' and 'version'"),
        ({"name": "", "version": 1}, ("a",), "needs exactly 'name' and 'version'"),
        ({"name": "tactical", "version": "1"}, ("a",), "positive integer"),
        ({"name": "tactical", "version": 0}, ("a",), "positive integer"),
        ({"name": "tactical", "version": True}, ("a",), "positive integer"),
        ({"name": "tactical", "version": 1, "extra": 2}, ("a",), "needs exactly"),
        ({"name": "tactical", "version": 1}, (), "lists no 'features'"),
    ],
)
def test_a_malformed_observation_block_is_refused(
    tmp_path: Path, observation: Any, features: tuple[str, ...], message: str
) -> None:
    raw = read_bundle(mlp_bundle(tmp_path / "s", kind="forecast.load", n_in=1, n_out=1)).manifest
    data = raw.to_dict() | {"observation": observation, "features": list(features)}
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)


def test_the_export_refuses_a_layer_wider_than_its_contract(tmp_path: Path) -> None:
    from skyroute.learn.config import HierarchyConfig
    from skyroute.learn.hierarchy import export_layer

    contract = ObservationContract("tactical", 1, ("a", "b"))
    with pytest.raises(ConfigError, match="takes 3 inputs, its tactical observation contract"):
        export_layer(
            tmp_path, name="tactical", kind="placement.tactical", module=None, n_inputs=3,
            n_outputs=8, probe=np.zeros((1, 3)), config=HierarchyConfig(), until="2026-10-31",
            data="x", metrics={}, observation=contract,
        )  # fmt: skip
