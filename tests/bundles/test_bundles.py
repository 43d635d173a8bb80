"""Bundles: round trips for every safe format, refusal of everything unsafe or malformed."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bundlemaker import X, lightgbm_bundle, mlp_bundle, onnx_bundle, xgboost_bundle
from skyroute.bundles import (
    BundleError,
    UnsafeBundleError,
    extract_bundle,
    pack_bundle,
    read_bundle,
)
from skyroute.bundles.verify import sha256_of
from skyroute.cli.main import app


def test_onnx_round_trip_equals_sklearn(tmp_path: Path) -> None:
    path, clf = onnx_bundle(tmp_path / "router")
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, clf.predict_proba(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", ["json", "ubj"])
def test_xgboost_round_trip(tmp_path: Path, suffix: str) -> None:
    import xgboost as xgb

    path, booster = xgboost_bundle(tmp_path / "forecast", suffix)
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_lightgbm_round_trip(tmp_path: Path) -> None:
    path, booster = lightgbm_bundle(tmp_path / "spot")
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, booster.predict(X), rtol=1e-9)


def test_safetensors_mlp_and_zip_round_trip(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "strategic")
    direct = read_bundle(path).predictor().predict(X)
    assert direct.shape == (len(X), 3)
    archive = pack_bundle(path, tmp_path / "strategic.zip")
    assert pack_bundle(path, tmp_path / "again.zip").read_bytes() == archive.read_bytes()
    unpacked = extract_bundle(archive, tmp_path / "unpacked")
    np.testing.assert_array_equal(read_bundle(unpacked).predictor().predict(X), direct)


def test_hash_mismatch_missing_and_unlisted_files(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    model = path / "b-model.safetensors"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BundleError, match=r"does not match bundle\.json"):
        read_bundle(path)
    model.unlink()
    with pytest.raises(BundleError, match="missing"):
        read_bundle(path)
    model.write_bytes(original)
    (path / "notes.txt").write_text("hello")
    with pytest.raises(BundleError, match="not listed"):
        read_bundle(path)


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads((path / "bundle.json").read_text())
    manifest.update(changes)
    (path / "bundle.json").write_text(json.dumps(manifest))


def test_unknown_kind_suggests_and_shape_must_fit_the_kind(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    _edit_manifest(path, kind="placement.tactcal")
    with pytest.raises(BundleError, match=r"did you mean 'placement\.tactical'"):
        read_bundle(path)
    wrong = mlp_bundle(tmp_path / "wrong", kind="placement.tactical", n_out=3)
    _edit_manifest(wrong, outputs=[{"name": "y", "shape": [-1, 24]}])
    with pytest.raises(
        BundleError, match=r"returns 3 values per row; a placement\.tactical needs 24"
    ):
        read_bundle(wrong)


def _zip(tmp_path: Path, members: dict[str, bytes], name: str = "evil.zip") -> Path:
    target = tmp_path / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return target


def test_malformed_archives_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    good = pack_bundle(mlp_bundle(tmp_path / "b"), tmp_path / "good.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as archive:
        info = zipfile.ZipInfo("bundle.json")
        info.external_attr = (0o120777) << 16  # a symlink
        archive.writestr(info, "/etc/passwd")
    cases = {
        truncated: "not a valid zip",
        _zip(tmp_path, {"../escape.txt": b"x"}, "dots.zip"): "leaves the bundle folder",
        _zip(tmp_path, {"/etc/cron.d/x": b"x"}, "abs.zip"): "absolute path",
        link: "link or special file",
        _zip(tmp_path, {"bomb.bin": b"\0" * (64 << 20)}, "bomb.zip"): "zip bomb",
        _zip(tmp_path, {f"f{i}": b"x" for i in range(100)}, "many.zip"): "files in the archive",
    }
    for archive, message in cases.items():
        dest = tmp_path / f"out-{archive.stem}"
        with pytest.raises(BundleError, match=message):
            extract_bundle(archive, dest)
        assert not dest.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-")]
    assert leftovers == []


class _Marker:
    """Unpickling this writes a file: the proof that a loader ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


def _unsafe_files(tmp_path: Path, marker: Path) -> dict[str, bytes]:
    import joblib
    import torch

    torch_buffer = io.BytesIO()
    torch.save({"payload": _Marker(marker)}, torch_buffer)
    joblib_path = tmp_path / "model.joblib"
    joblib.dump(_Marker(marker), joblib_path)
    return {
        "model.pkl": pickle.dumps(_Marker(marker)),
        "model.joblib": joblib_path.read_bytes(),
        "model.pt": torch_buffer.getvalue(),
        "innocent.onnx": pickle.dumps(_Marker(marker)),  # a pickle under a safe name
    }


@pytest.mark.parametrize("allow_unsafe", [False, True])
def test_pickle_joblib_and_torch_files_are_refused_without_running_them(
    tmp_path: Path, allow_unsafe: bool
) -> None:
    marker = tmp_path / "MARKER"
    for name, data in _unsafe_files(tmp_path, marker).items():
        bundle = tmp_path / f"bundle-{name}"
        bundle.mkdir()
        (bundle / name).write_bytes(data)
        manifest = {
            "name": "evil", "version": "1", "kind": "router.platform", "format": "onnx",
            "trained_until": "2026-10-31", "created_at": "2026-11-01",
            "inputs": [{"name": "x", "shape": [-1, 4]}],
            "outputs": [{"name": "y", "shape": [-1, 2]}],
            "files": {name: sha256_of(bundle / name)}, "model_file": name,
        }  # fmt: skip
        (bundle / "bundle.json").write_text(json.dumps(manifest))
        if allow_unsafe:
            assert read_bundle(bundle, allow_unsafe=True).manifest.unsafe
        else:
            with pytest.raises(UnsafeBundleError, match="would run code"):
                read_bundle(bundle)
    assert not marker.exists()


runner = CliRunner()


def test_cli_verify_inspect_and_pack(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    result = runner.invoke(app, ["bundle", "verify", str(path)])
    assert result.exit_code == 0 and "ok: mlp 1" in result.output
    result = runner.invoke(app, ["bundle", "pack", str(path), "--out", str(tmp_path / "b.zip")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["bundle", "inspect", str(tmp_path / "b.zip")])
    assert result.exit_code == 0 and "placement.strategic" in result.output
    (path / "b-model.safetensors").write_bytes(b"garbage")
    result = runner.invoke(app, ["bundle", "verify", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "does not match" in result.output
