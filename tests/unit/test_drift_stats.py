"""Drift statistics and the bundle's training reference, as pure functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bundlemaker import mlp_bundle, profile_reference, profile_sample
from skyroute.bundles import BundleError, read_bundle
from skyroute.bundles.reference import MAX_VALUES, check_reference, input_reference
from skyroute.serve.drift_stats import Reference, Thresholds, compare, ks_p_value, psi

LIMITS = Thresholds(psi=0.2, p_value=0.01)


def _reference(values: Any, **kw: Any) -> Reference:
    raw = input_reference({"x": values}, **kw)["features"]["x"]
    return Reference.from_manifest(raw)


def test_the_same_distribution_does_not_drift_and_a_shifted_one_does() -> None:
    rng = np.random.default_rng(0)
    reference = _reference(rng.lognormal(0, 0.5, 10_000))
    same = compare("x", reference, list(rng.lognormal(0, 0.5, 500)), LIMITS)
    shifted = compare("x", reference, list(rng.lognormal(0.7, 0.5, 500)), LIMITS)
    assert not same.drifted and same.psi is not None and same.psi < 0.1 and same.p_value > 0.01
    assert shifted.drifted and shifted.psi is not None and shifted.psi > 1.0
    assert shifted.p_value < 1e-10 and shifted.n == 500


def test_psi_needs_both_a_large_and_a_significant_shift() -> None:
    rng = np.random.default_rng(1)
    reference = _reference(rng.normal(0, 1, 10_000))
    # Thousands of values a fifth of a standard deviation off: significant, but small.
    slight = compare("x", reference, list(rng.normal(0.2, 1, 5_000)), LIMITS)
    assert slight.p_value < 0.01 and slight.psi is not None and slight.psi < 0.2
    assert not slight.drifted


def test_psi_from_quantiles_alone_matches_psi_from_the_sample() -> None:
    rng = np.random.default_rng(2)
    raw = input_reference({"x": rng.normal(0, 1, 20_000)})["features"]["x"]
    with_sample = Reference.from_manifest(raw)
    quantiles_only = Reference.from_manifest({"quantiles": raw["quantiles"]})
    current = rng.normal(0.5, 1, 1_000)
    assert psi(quantiles_only, current) == pytest.approx(psi(with_sample, current), rel=0.1)
    # Without a sample the test is one-sample against the quantiles' CDF: still decisive.
    assert ks_p_value(quantiles_only, current) < 1e-10
    assert ks_p_value(quantiles_only, rng.normal(0, 1, 1_000)) > 0.01


def test_ties_in_the_reference_do_not_break_the_bins() -> None:
    values = np.concatenate([np.zeros(800), np.linspace(1, 2, 200)])  # 80 % zeros (payloads)
    reference = _reference(values)
    assert psi(reference, values) < 0.01
    assert psi(reference, np.linspace(1, 2, 500)) > 1.0


def test_input_reference_is_small_and_valid() -> None:
    reference = input_reference(profile_sample(50_000), seed=0)
    assert reference["n"] == 50_000
    for entry in reference["features"].values():
        assert len(entry["quantiles"]) + len(entry["sample"]) <= MAX_VALUES
        assert entry["quantiles"] == sorted(entry["quantiles"])
    assert check_reference(json.loads(json.dumps(reference))) == reference


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"n": 10}, "needs exactly 'n' and 'features'"),
        ({"n": 0, "features": {"x": {"sample": [1.0]}}}, "positive integer"),
        ({"n": 1, "features": {}}, "at least one feature"),
        ({"n": 1, "features": {"x": {"bins": [1.0]}}}, "'quantiles' and/or 'sample'"),
        ({"n": 1, "features": {"x": {"quantiles": [2.0, 1.0]}}}, "non-decreasing"),
        ({"n": 1, "features": {"x": {"sample": ["a"]}}}, "non-numbers"),
        ({"n": 1, "features": {"x": {"sample": [float("nan")]}}}, "NaN or infinity"),
        ({"n": 1, "features": {"x": {"sample": [1.0] * (MAX_VALUES + 1)}}}, "more than"),
    ],
)
def test_a_bad_reference_is_refused_naming_the_field(raw: Any, fragment: str) -> None:
    with pytest.raises(BundleError) as caught:
        check_reference(raw)
    assert fragment in caught.value.message and "reference" in caught.value.message


def test_a_bundle_carries_its_reference_and_old_bundles_read_as_before(tmp_path: Path) -> None:
    with_reference = mlp_bundle(tmp_path / "new", n_in=50, reference=profile_reference())
    manifest = read_bundle(with_reference).manifest
    assert set(manifest.reference["features"]) == {
        "duration_ms", "memory_mb", "payload_kb", "rate_per_min",
    }  # fmt: skip
    old = mlp_bundle(tmp_path / "old", n_in=50)
    assert read_bundle(old).manifest.reference == {}
    assert "reference" not in json.loads((old / "bundle.json").read_text())


def test_a_bundle_with_a_broken_reference_is_refused_when_read(tmp_path: Path) -> None:
    folder = mlp_bundle(tmp_path / "b", n_in=50, reference=profile_reference())
    raw = json.loads((folder / "bundle.json").read_text())
    raw["reference"]["features"]["duration_ms"]["quantiles"] = [3.0, 1.0]
    (folder / "bundle.json").write_text(json.dumps(raw))
    with pytest.raises(BundleError, match="non-decreasing"):
        read_bundle(folder)


def test_bundle_inspect_shows_the_reference(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from skyroute.cli.main import app

    folder = mlp_bundle(tmp_path / "b", n_in=50, reference=profile_reference(n=3_000))
    shown = CliRunner().invoke(app, ["bundle", "inspect", str(folder)])
    assert shown.exit_code == 0, shown.output
    flat = "".join(c for c in shown.output if c not in " \n│")  # however the table wraps
    assert "3000trainingrows:duration_ms,memory_mb,payload_kb,rate_per_min" in flat
