"""Registering a sweep's champion in the MLflow Model Registry: a local store and an MLflow
server backed by the PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from bundlemaker import mlp_bundle
from skyroute.bundles import read_bundle
from skyroute.experiments.promote import PromotionError, fetch_champion_bundle, register_champion
from sweepmaker import RULE, sample_outcome


def log_run_with_bundle(tracking_uri: str, bundle: Path, artifacts: Path | None) -> str:
    """A finished MLflow run holding ``bundle`` under the ``bundle`` artifact path."""
    client = MlflowClient(tracking_uri=tracking_uri)
    location = artifacts.as_uri() if artifacts else None
    experiment = client.create_experiment(f"sweep-{uuid.uuid4().hex[:8]}", location)
    run_id: str = client.create_run(experiment, run_name="lstm-burst-pretrain-02").info.run_id
    client.log_metric(run_id, "accuracy", 0.86)
    client.log_artifacts(run_id, str(bundle), "bundle")
    client.set_terminated(run_id)
    return run_id


def broken_bundle(tmp_path: Path) -> Path:
    """A bundle whose model file changed after bundle.json recorded its sha256."""
    folder = mlp_bundle(tmp_path / "broken", n_in=50)
    model = next(p for p in folder.iterdir() if p.suffix == ".safetensors")
    model.write_bytes(model.read_bytes()[:-4] + b"\0\0\0\0")
    return folder


@pytest.fixture(params=["sqlite", "postgresql-server"])
def tracking(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path | None]:
    """A tracking URI and where runs' artifacts go (None: the server's artifact root)."""
    if request.param == "sqlite":
        return request.getfixturevalue("mlflow_sqlite_uri"), tmp_path / "artifacts"
    return request.getfixturevalue("mlflow_pg_server"), None


def test_champion_registered_with_alias_and_invalid_bundle_registers_nothing(
    tracking: tuple[str, Path | None], tmp_path: Path
) -> None:
    uri, artifacts = tracking
    client = MlflowClient(tracking_uri=uri)

    bad_run = log_run_with_bundle(uri, broken_bundle(tmp_path), artifacts)
    with pytest.raises(PromotionError, match=r"bundle \(run \w+\) fails verification: "):
        register_champion(sample_outcome(champion_run_id=bad_run), uri, "burst")
    assert client.search_registered_models() == []

    good_run = log_run_with_bundle(uri, mlp_bundle(tmp_path / "good", n_in=50), artifacts)
    version = register_champion(sample_outcome(champion_run_id=good_run), uri, "burst")
    assert version == "1"
    champion = client.get_model_version_by_alias("burst", "champion")
    assert (str(champion.version), champion.run_id) == ("1", good_run)
    assert champion.source.endswith("/bundle")
    assert champion.tags["sweep"] == "lstm-burst-study"
    assert champion.tags["phase"] == "pretrain"
    assert champion.tags["rule"] == RULE
    assert champion.tags["run"] == "lstm-burst-pretrain-02"
    assert float(champion.tags["metric.accuracy"]) == 0.86

    # A resumed sweep ending again registers nothing new.
    assert register_champion(sample_outcome(champion_run_id=good_run), uri, "burst") == "1"
    assert len(client.search_model_versions("name = 'burst'")) == 1


def test_a_new_champion_moves_the_alias(mlflow_sqlite_uri: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    first = log_run_with_bundle(mlflow_sqlite_uri, mlp_bundle(tmp_path / "a", n_in=50), artifacts)
    second = log_run_with_bundle(
        mlflow_sqlite_uri, mlp_bundle(tmp_path / "b", n_in=50, seed=1), artifacts
    )
    register_champion(sample_outcome(champion_run_id=first), mlflow_sqlite_uri, "burst")
    assert (
        register_champion(sample_outcome(champion_run_id=second), mlflow_sqlite_uri, "burst") == "2"
    )
    alias = MlflowClient(mlflow_sqlite_uri).get_model_version_by_alias("burst", "champion")
    assert alias.run_id == second


def test_refusals_are_clear(mlflow_sqlite_uri: str, tmp_path: Path) -> None:
    with pytest.raises(PromotionError, match="has no MLflow run id"):
        register_champion(sample_outcome(), mlflow_sqlite_uri, "burst")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no bundle here")
    client = MlflowClient(mlflow_sqlite_uri)
    experiment = client.create_experiment("no-bundle", (tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_artifacts(run_id, str(empty), "plots")
    with pytest.raises(PromotionError, match="has no 'bundle' artifact"):
        register_champion(sample_outcome(champion_run_id=run_id), mlflow_sqlite_uri, "burst")
    assert client.search_registered_models() == []


def test_fetch_champion_bundle_downloads_a_verified_copy(
    mlflow_sqlite_uri: str, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    good = log_run_with_bundle(mlflow_sqlite_uri, mlp_bundle(tmp_path / "a", n_in=50), artifacts)
    folder = fetch_champion_bundle(
        sample_outcome(champion_run_id=good), mlflow_sqlite_uri, tmp_path / "got"
    )
    assert read_bundle(folder).manifest.kind == "placement.strategic"
    bad = log_run_with_bundle(mlflow_sqlite_uri, broken_bundle(tmp_path), artifacts)
    with pytest.raises(PromotionError, match="fails verification"):
        fetch_champion_bundle(
            sample_outcome(champion_run_id=bad), mlflow_sqlite_uri, tmp_path / "bad"
        )
