"""Tiny-budget training of every hierarchy layer: bundle → verify → load → predict → serve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from apiclient import make_tenant
from skyroute.bundles import pack_bundle, read_bundle
from skyroute.errors import ConfigError
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.pipeline import evaluate_hierarchy, train_hierarchy

SPEC = "synthetic:functions=60,days=1,seed=4"
#: Tiny: a few thousand calls fitted for two epochs, plus a few on-line fine-tuning steps.
BUDGET = {"samples": 3000, "epochs": 2, "dqn_steps": 64, "ppo_steps": 256, "lstm_epochs": 1}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("hierarchy")
    config = HierarchyConfig(trace=SPEC, **BUDGET)
    train_hierarchy(config, out, None)
    yield out


def test_every_layer_is_a_verified_onnx_bundle_equal_to_pytorch(bundles: Path) -> None:
    shapes = {"strategic": (50, 3), "tactical": (115, 8), "forecast": (12, 12)}
    for name, (n_in, n_out) in shapes.items():
        bundle = read_bundle(bundles / name)
        assert bundle.manifest.format == "onnx"
        assert bundle.manifest.metrics["onnx_max_abs_error"] <= 1e-4
        assert bundle.manifest.params["seed"] == 0
        out = bundle.predictor().predict(np.zeros((5, n_in), dtype=np.float32))
        assert np.asarray(out).reshape(5, -1).shape == (5, n_out)
        assert np.isfinite(out).all()
    training = json.loads((bundles / "training.json").read_text())
    assert np.isfinite(training["forecast"]["held_out_hours"]["lstm"]["r2"]).all()


def test_placement_layers_record_the_observation_they_were_trained_on(bundles: Path) -> None:
    from skyroute.world.observations import strategic_contract, tactical_contract
    from skyroute.world.providers import PROVIDER_ORDER

    for name, contract in (
        ("strategic", strategic_contract(PROVIDER_ORDER)),
        ("tactical", tactical_contract()),
    ):
        manifest = read_bundle(bundles / name).manifest
        assert manifest.observation == contract.manifest_entry()
        assert manifest.features == contract.features
    assert read_bundle(bundles / "forecast").manifest.observation == {}


def test_placement_layers_carry_the_training_reference_of_the_request_profiles(
    bundles: Path,
) -> None:
    from skyroute.bundles.reference import PROFILE_FEATURES

    strategic = read_bundle(bundles / "strategic").manifest.reference
    assert set(strategic["features"]) == set(PROFILE_FEATURES) and strategic["n"] > 1000
    assert read_bundle(bundles / "tactical").manifest.reference == strategic
    for entry in strategic["features"].values():
        assert entry["quantiles"][0] <= np.median(entry["sample"]) <= entry["quantiles"][-1]
    # The forecaster reads call counts, not profiles: it has no profile reference.
    assert read_bundle(bundles / "forecast").manifest.reference == {}


def test_forecast_bundle_takes_raw_counts_and_returns_a_rate(bundles: Path) -> None:
    predictor = read_bundle(bundles / "forecast").predictor()
    busy = predictor.predict(np.full((1, 12), 30.0, dtype=np.float32))
    idle = predictor.predict(np.zeros((1, 12), dtype=np.float32))
    assert float(np.ravel(busy)[0]) >= 0.0 and float(np.ravel(idle)[0]) >= 0.0


def test_evaluate_reports_every_policy_on_both_held_out_sets(bundles: Path, tmp_path: Path) -> None:
    summary = evaluate_hierarchy(SPEC, bundles, tmp_path, seed=0)
    for label in ("held-out-hours", "held-out-functions"):
        objectives = summary[label]["objective"]
        assert {"hierarchical", "oracle", "greedy", "only-aws"} <= set(objectives)
        assert objectives["oracle"] <= min(objectives.values()) + 1e-12
        metrics = json.loads((tmp_path / label / "metrics.json").read_text())
        assert "hierarchical" in metrics["policies"]


def test_the_server_serves_the_trained_bundles(bundles: Path, tmp_path: Path) -> None:
    from skyroute.serve.app import create_app
    from skyroute.serve.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "d",
        model_upload_dir=tmp_path / "m",
        admin_token="admin-secret-for-tests",
    )
    with TestClient(create_app(settings)) as client:
        tenant = make_tenant(client, "learner")
        for name in ("strategic", "tactical", "forecast"):
            archive = pack_bundle(bundles / name, tmp_path / f"{name}.zip")
            with archive.open("rb") as handle:
                uploaded = client.post(
                    "/api/v1/ml/models/upload",
                    data={"name": name, "version": "1"},
                    files={"file": (archive.name, handle, "application/zip")},
                    headers=tenant.headers,
                )
            assert uploaded.status_code == 201, uploaded.text
            client.post(
                "/api/v1/ml/models/activate",
                json={"model_id": name, "version": "1"},
                headers=tenant.headers,
            )
        client.post(
            "/api/v1/ml/engines/select", json={"engine_id": "hierarchical"}, headers=tenant.headers
        )
        body = {
            "function": {"id": "f", "duration_ms": 80, "memory_mb": 120, "origin": "aws:us-east-1"}
        }
        decided = client.post("/api/v1/ml/decide", json=body, headers=tenant.headers)
        assert decided.status_code == 200, decided.text
        assert set(decided.json()["model_versions"]) == {
            "placement.strategic",
            "placement.tactical",
            "forecast.load",
        }
        assert decided.json()["fallback"] is False


def test_impossible_configs_and_tiny_traces_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dqn_learning_rate"):
        HierarchyConfig(dqn_learning_rate=-1.0)
    with pytest.raises(ConfigError, match="ppo_steps"):
        HierarchyConfig(ppo_steps=-1)
    with pytest.raises(ConfigError, match="samples"):
        HierarchyConfig(samples=0)
    with pytest.raises(ConfigError, match="hidden"):
        HierarchyConfig(hidden=())
    tiny = HierarchyConfig(trace="synthetic:functions=2,days=1,seed=1", samples=10)
    with pytest.raises(ConfigError, match="too small"):
        train_hierarchy(tiny, tmp_path, None)


def test_the_same_seed_gives_the_same_bundles(bundles: Path, tmp_path: Path) -> None:
    config = HierarchyConfig(trace=SPEC, **BUDGET)
    train_hierarchy(config, tmp_path, None)
    for name in ("strategic", "tactical", "forecast"):
        first = read_bundle(bundles / name).manifest
        again = read_bundle(tmp_path / name).manifest
        assert first.files == again.files, name  # identical ONNX bytes, hence weights
    before = json.loads((bundles / "training.json").read_text())["forecast"]
    after = json.loads((tmp_path / "training.json").read_text())["forecast"]
    assert before == after


def _simulate(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from skyroute.cli.main import app

    result = CliRunner().invoke(app, ["simulate", *args])
    return result.exit_code, result.output


def test_simulate_replays_another_trace_under_the_bundles(bundles: Path, tmp_path: Path) -> None:
    other = "synthetic:functions=30,days=1,seed=9"  # functions the bundles never saw
    out = tmp_path / "some"
    code, output = _simulate(
        "--trace", other, "--policy", "hierarchical,greedy,oracle",
        "--bundles", str(bundles), "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    policies = json.loads((out / "metrics.json").read_text())["policies"]
    assert set(policies) == {"hierarchical", "greedy", "oracle"}
    assert policies["oracle"]["objective"] <= policies["hierarchical"]["objective"]
    code, output = _simulate(
        "--trace", other, "--policy", "all", "--bundles", str(bundles), "--out", str(tmp_path / "a")
    )
    assert code == 0, output
    every = json.loads((tmp_path / "a" / "metrics.json").read_text())["policies"]
    assert {"hierarchical", "greedy", "only-aws", "oracle"} <= set(every)


def _copy(bundles: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(bundles, target)
    return target


def _refused(bundles: Path, tmp_path: Path, *needles: str) -> None:
    out = tmp_path / "never"
    code, output = _simulate(
        "--trace", SPEC, "--policy", "all", "--bundles", str(bundles), "--out", str(out)
    )
    assert code != 0 and "Traceback" not in output
    text = " ".join(output.split())
    assert text.startswith("error:"), output
    for needle in needles:
        assert needle in text, (needle, output)
    assert not out.exists()  # nothing half-written


def test_a_learned_policy_without_bundles_says_how_to_get_them(tmp_path: Path) -> None:
    _refused_without = _simulate("--trace", SPEC, "--policy", "hierarchical,greedy")
    assert _refused_without[0] != 0
    assert "--bundles" in " ".join(_refused_without[1].split())


def test_bundles_of_the_wrong_kind_are_refused(bundles: Path, tmp_path: Path) -> None:
    import shutil

    swapped = _copy(bundles, tmp_path)
    shutil.rmtree(swapped / "strategic")
    shutil.copytree(bundles / "tactical", swapped / "strategic")
    _refused(swapped, tmp_path, "'placement.tactical' bundle where a 'placement.strategic'")
    _refused(tmp_path / "nowhere", tmp_path, "is not a folder of bundles")


def test_bundles_from_an_older_observation_layout_are_refused(
    bundles: Path, tmp_path: Path
) -> None:
    older = _copy(bundles, tmp_path)
    manifest = json.loads((older / "tactical" / "bundle.json").read_text())
    manifest["observation"]["version"] = 1
    (older / "tactical" / "bundle.json").write_text(json.dumps(manifest))
    _refused(older, tmp_path, "tactical observation v1", "skyroute train hierarchy")


def _autoscale(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from skyroute.cli.main import app

    result = CliRunner().invoke(app, ["autoscale", "simulate", *args])
    return result.exit_code, result.output


def test_autoscale_compares_the_scalers_at_equal_spend(bundles: Path, tmp_path: Path) -> None:
    out = tmp_path / "autoscale"
    code, output = _autoscale(
        "--trace", SPEC, "--bundles", str(bundles), "--out", str(out), "--targets", "0.6:0.9:0.1"
    )
    assert code == 0, output
    summary = json.loads((out / "metrics.json").read_text())
    equal = summary["equal_spend"]
    assert equal["targets"] == [0.6, 0.7, 0.8, 0.9]
    assert len(equal["matches"]) == 4 and sum(equal["tally"].values()) <= 4
    for match in equal["matches"]:
        if match["reactive"] is not None:
            assert match["reactive"]["replica_minutes"] <= match["predictive"]["replica_minutes"]
    assert (out / "frontier.png").stat().st_size > 0 and (out / "autoscale.png").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--targets", "0.9:0.5:0.1"), "START:STOP:STEP"),
        (("--targets", "0.5,1.5"), "(0, 1]"),
        (("--startup", "6", "--lookahead", "6"), "--startup + --lookahead"),
    ],
)
def test_autoscale_refuses_settings_it_cannot_replay(
    bundles: Path, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    code, output = _autoscale("--trace", SPEC, "--bundles", str(bundles), *args)
    assert code != 0 and needle in output and "Traceback" not in output
