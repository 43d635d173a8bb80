"""Contract of every registered trainer: a tiny run trains, reports finite metrics it declared,
keeps its plots and a bundle that verifies; configs refuse unknown and impossible parameters.
The lstm-burst trainer is bit-reproducible across processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from skyroute.bundles import read_bundle
from skyroute.errors import ConfigError, UnknownNameError
from skyroute.experiments.trainer import (
    TRAINERS,
    RunContext,
    RunResult,
    build_config,
    get_trainer,
    parameters,
)

#: Each trainer's tiny run: the parameters it is built from (before ``scaled``).
PARAMS: dict[str, dict[str, object]] = {
    # 25 full pre-training epochs -> 1 at tiny: the run covers pre-training too.
    "lstm-burst": {"pretrain_epochs": 25, "time_warp_sigma": 0.12},
    "router": {},
    "hierarchy": {},
}
KINDS = {
    "lstm-burst": "classifier.burst",
    "router": "router.platform",
    "hierarchy": "placement.strategic",
}


@dataclass
class Trained:
    result: RunResult
    run_dir: Path
    #: Logged curves: metric -> [(step, value)].
    curves: dict[str, list[tuple[int, float]]]


def train_tiny(name: str, run_dir: Path, seed: int = 0) -> Trained:
    trainer = get_trainer(name)
    config = trainer.scaled(build_config(trainer, PARAMS[name]), "tiny")
    curves: dict[str, list[tuple[int, float]]] = {}

    def log(values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            curves.setdefault(key, []).append((step, value))

    context = RunContext(run_dir=run_dir, seed=seed, scale="tiny", device="cpu", log_metrics=log)
    return Trained(trainer.train(config, context), run_dir, curves)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    """One tiny run per trainer, trained on first use."""
    cache: dict[str, Trained] = {}

    class Lazy(dict[str, Trained]):
        def __missing__(self, name: str) -> Trained:
            cache[name] = train_tiny(name, tmp_path_factory.mktemp(name))
            self[name] = cache[name]
            return cache[name]

    return Lazy()


def test_every_registered_trainer_is_tested() -> None:
    assert set(PARAMS) == set(TRAINERS)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_a_tiny_run_honours_the_contract(name: str, trained: dict[str, Trained]) -> None:
    trainer = get_trainer(name)
    run = trained[name]
    metrics = run.result.metrics
    assert set(trainer.metrics) <= set(metrics)
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values()), metrics
    assert run.result.artifacts
    for path in run.result.artifacts:
        assert path.is_file() and path.stat().st_size > 0
        assert run.run_dir in path.parents
    names = [p.name for p in run.result.artifacts]
    assert len(set(names)) == len(names)  # no two artifacts collide in a flat store
    assert any(n.endswith(".png") for n in names)
    assert run.result.bundle_dir is not None and run.run_dir in run.result.bundle_dir.parents
    bundle = read_bundle(run.result.bundle_dir)  # every hash, the format, the shapes
    assert bundle.manifest.kind == KINDS[name]
    width = bundle.manifest.inputs[0].shape[-1]
    out = np.asarray(bundle.predictor().predict(np.zeros((3, width), dtype=np.float32)))
    assert out.shape[0] == 3 and np.isfinite(out).all()

    from typer.testing import CliRunner

    from skyroute.cli.main import app

    verified = CliRunner().invoke(app, ["bundle", "verify", str(run.result.bundle_dir)])
    assert verified.exit_code == 0 and "ok:" in verified.output, verified.output


def test_the_burst_classifier_logs_curves_and_meets_the_study_constraint(
    trained: dict[str, Trained],
) -> None:
    run = trained["lstm-burst"]
    config = get_trainer("lstm-burst").scaled(
        build_config(get_trainer("lstm-burst"), PARAMS["lstm-burst"]), "tiny"
    )
    for key in ("train_loss", "val_loss", "val_accuracy", "val_class_1_accuracy"):
        assert [step for step, _ in run.curves[key]] == list(range(config.epochs))  # type: ignore[attr-defined]
    assert [step for step, _ in run.curves["pretrain_loss"]] == [0]
    metrics = run.result.metrics
    assert metrics["class_1_accuracy"] >= 0.30  # the seed study's constraint
    assert metrics["accuracy"] == pytest.approx(
        metrics["burst_share"] * metrics["class_1_accuracy"]
        + (1 - metrics["burst_share"]) * metrics["class_0_accuracy"],
        abs=1e-6,
    )
    assert run.curves["val_loss"][-1][1] == pytest.approx(metrics["val_loss"])
    manifest = read_bundle(run.result.bundle_dir).manifest  # type: ignore[arg-type]
    assert manifest.params["hidden"] == 64 and manifest.params["seed"] == 0
    assert manifest.features[0] == "calls_t-30" and manifest.features[-1] == "calls_t-1"
    assert manifest.metrics["class_1_accuracy"] == metrics["class_1_accuracy"]
    assert manifest.data_fingerprint and manifest.trained_until
    assert {"torch", "onnx", "numpy"} <= set(manifest.libraries)
    # The bundle takes raw calls per minute and returns P(burst ahead).
    predictor = read_bundle(run.result.bundle_dir).predictor()  # type: ignore[arg-type]
    quiet = np.full((1, 30), 2.0, dtype=np.float32)
    p = float(np.ravel(predictor.predict(quiet))[0])
    assert 0.0 <= p <= 1.0


def test_the_burst_classifier_is_bit_identical_in_another_process(
    trained: dict[str, Trained], tmp_path: Path
) -> None:
    script = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from test_trainers import train_tiny;"
        "print(json.dumps(train_tiny('lstm-burst', Path(sys.argv[2])).result.metrics))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    other = json.loads(done.stdout.strip().splitlines()[-1])
    assert other == trained["lstm-burst"].result.metrics  # exact floats, not approximately


@pytest.mark.parametrize(
    ("name", "wrong", "suggested"),
    [
        ("lstm-burst", "hiden", "'hidden'"),
        ("lstm-burst", "time_warp_sigm", "'time_warp_sigma'"),
        ("router", "max_row", "'max_rows'"),
        ("hierarchy", "sample", "'samples'"),
    ],
)
def test_an_unknown_parameter_is_named_with_did_you_mean(
    name: str, wrong: str, suggested: str
) -> None:
    trainer = get_trainer(name)
    with pytest.raises(UnknownNameError) as caught:
        build_config(trainer, {wrong: 1})
    text = str(caught.value)
    assert f"unknown {name} parameter {wrong!r}" in text and f"did you mean {suggested}" in text


def test_the_runs_seed_is_not_a_parameter() -> None:
    for name in TRAINERS:
        assert "seed" not in parameters(get_trainer(name))


def test_heads_that_do_not_divide_hidden_are_a_clear_error() -> None:
    trainer = get_trainer("lstm-burst")
    with pytest.raises(ConfigError, match=r"hidden=64 is not divisible by heads=6") as caught:
        build_config(trainer, {"hidden": 64, "heads": 6})
    assert "use heads in [1, 2, 4, 8, 16]" in caught.value.fix
    assert build_config(trainer, {"hidden": 128, "heads": 8}).heads == 8  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("router", {"families": ["xgbost"]}, "did you mean 'xgboost'"),
        ("router", {"max_rows": 0}, "max_rows=0 is impossible"),
        ("hierarchy", {"samples": 0}, "samples=0 is impossible"),
        ("hierarchy", {"holdout_hours": 1.5}, "not a share"),
    ],
)
def test_the_learn_configs_checks_apply_to_sweeps(
    name: str, params: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_config(get_trainer(name), params)


@pytest.mark.parametrize(("full", "tiny"), [(0, 0), (50, 2), (75, 3), (100, 4)])
def test_tiny_divides_pretraining_epochs(full: int, tiny: int) -> None:
    trainer = get_trainer("lstm-burst")
    config = build_config(trainer, {"pretrain_epochs": full, "hidden": 128, "heads": 8})
    small = trainer.scaled(config, "tiny")
    assert small.pretrain_epochs == tiny  # type: ignore[attr-defined]
    assert (small.hidden, small.heads) == (128, 8)  # type: ignore[attr-defined]
    assert (small.max_windows, small.max_val_windows, small.epochs) == (1000, 2000, 5)  # type: ignore[attr-defined]
    assert trainer.scaled(config, "full") == config


def test_tiny_keeps_a_sweeps_router_families() -> None:
    trainer = get_trainer("router")
    assert trainer.scaled(build_config(trainer, {}), "tiny").families == ("lightgbm",)  # type: ignore[attr-defined]
    chosen = build_config(trainer, {"families": ["mlp"]})
    assert trainer.scaled(chosen, "tiny").families == ("mlp",)  # type: ignore[attr-defined]


def test_a_nan_loss_raises_instead_of_returning_nan_metrics() -> None:
    from skyroute.experiments.trainers.base import finite_metrics
    from skyroute.experiments.trainers.burst_data import BurstData, BurstWindows
    from skyroute.experiments.trainers.burst_fit import FitPlan, fine_tune
    from skyroute.experiments.trainers.burst_model import make_model

    x = np.ones((8, 5), dtype=np.float32)
    x[3, 2] = np.nan
    rows = BurstWindows(x, np.array([0, 1] * 4, dtype=np.float32))
    plan = FitPlan(
        epochs=1, pretrain_epochs=0, batch_size=8, lr=1e-3, positive_weight=1.0,
        time_warp_sigma=0.0, mask_share=0.15, threshold=0.5,
    )  # fmt: skip
    model = make_model(window=5, hidden=4, heads=2, layers=1, dropout=0.0)
    with pytest.raises(ConfigError, match="loss became nan in epoch 1"):
        fine_tune(model, BurstData(rows, rows, 0), plan, 0, lambda values, step: None)
    with pytest.raises(ConfigError, match="roc_auc=nan"):
        finite_metrics("lstm-burst", {"accuracy": 0.9, "roc_auc": float("nan")})


def test_burst_labels_and_the_training_draw() -> None:
    from skyroute.experiments.trainers.burst_data import burst_labels, draw

    x = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [10, 10, 10, 10]], dtype=np.float32)
    ahead = np.array([[4, 0], [4, 0], [25, 0]], dtype=np.float32)
    # peak > 3 x mean and >= 4 calls: row 0 (4 > 3), row 1 (4 > 0); not row 2 (25 < 30).
    assert burst_labels(x, ahead, 3.0, 4).tolist() == [True, True, False]
    assert burst_labels(x, ahead, 3.0, 5).tolist() == [False, False, False]
    labels = np.arange(1000) % 50 == 0  # 2% bursts
    chosen = draw(labels, 100, 0.3, np.random.default_rng(0))
    assert len(chosen) == 100 and labels[chosen].sum() == 20  # every burst there is
    chosen = draw(labels, 40, 0.25, np.random.default_rng(0))
    assert labels[chosen].sum() == 10 and len(set(chosen.tolist())) == 40
    assert len(draw(labels, 100, None, np.random.default_rng(0))) == 100


def test_roc_auc_counts_ties_half() -> None:
    from sklearn.metrics import roc_auc_score

    from skyroute.experiments.trainers.burst_fit import roc_auc

    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.2).astype(np.float32)
    scores = np.round(rng.random(300) + labels * 0.3, 1).astype(np.float32)  # many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert math.isnan(roc_auc(np.zeros(4, dtype=np.float32), np.ones(4, dtype=np.float32)))


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_configs_pickle_for_other_processes(name: str) -> None:
    import pickle

    trainer = get_trainer(name)
    config = trainer.scaled(build_config(trainer, PARAMS[name]), "tiny")
    assert pickle.loads(pickle.dumps(config)) == config
