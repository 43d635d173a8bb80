"""Bundles: round trips for every safe format, refusal of everything unsafe or malformed.

Every model here is a real (tiny) model trained in the test, so a round trip proves that the
bundle predicts exactly what the native library does.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from skyroute.bundles import (
    BundleError,
    Manifest,
    UnsafeBundleError,
    extract_bundle,
    pack_bundle,
    read_bundle,
    write_bundle,
)
from skyroute.bundles.verify import sha256_of
from skyroute.cli.main import app
from skyroute.errors import OutputError

RNG = np.random.default_rng(7)
X = RNG.normal(size=(120, 4)).astype(np.float32)
Y = (X[:, 0] - 0.5 * X[:, 2] > 0).astype(np.int64)
UNTIL = "2026-10-31"


def _io(n_in: int, n_out: int, out_name: str = "y") -> dict[str, Any]:
    return {
        "inputs": [{"name": "x", "dtype": "float32", "shape": [None, n_in]}],
        "outputs": [{"name": out_name, "dtype": "float32", "shape": [-1, n_out]}],
    }


def _write(out: Path, kind: str, fmt: str, files: dict[str, Path | bytes], **io_: Any) -> Path:
    write_bundle(
        out, name=out.name, version="1", kind=kind, format=fmt, trained_until=UNTIL,
        files=files, created_at="2026-11-01T00:00:00+00:00",
        features=[f"f{i}" for i in range(io_["inputs"][0]["shape"][1])],
        metrics={"auc": 0.9}, params={"seed": 0}, libraries={"numpy": np.__version__},
        code_version="test", data_fingerprint="abc123", **io_,
    )  # fmt: skip
    return out


def _mlp_tensors(n_in: int = 4, n_out: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "layers.0.weight": rng.normal(size=(6, n_in)).astype(np.float32),
        "layers.0.bias": rng.normal(size=6).astype(np.float32),
        "layers.1.weight": rng.normal(size=(n_out, 6)).astype(np.float32),
        "layers.1.bias": rng.normal(size=n_out).astype(np.float32),
    }


def mlp_bundle(out: Path, kind: str = "placement.strategic", n_out: int = 3, **extra: Any) -> Path:
    from safetensors.numpy import save

    io_ = _io(4, n_out) | extra
    data = save(_mlp_tensors(n_out=n_out))
    return _write(out, kind, "safetensors", {"mlp.safetensors": data}, **io_)


def _mlp_reference(x: np.ndarray, n_out: int = 3) -> np.ndarray:
    t = _mlp_tensors(n_out=n_out)
    hidden = np.maximum(x @ t["layers.0.weight"].T + t["layers.0.bias"], 0.0)
    return hidden @ t["layers.1.weight"].T + t["layers.1.bias"]


# --- round trips ------------------------------------------------------------------------------


def test_onnx_logistic_regression_round_trip(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, Y)
    onnx_bytes = to_onnx(clf, X[:1], options={"zipmap": False}).SerializeToString()
    path = _write(
        tmp_path / "router", "router.platform", "onnx", {"router.onnx": onnx_bytes},
        **_io(4, 2, out_name="probabilities"),
    )  # fmt: skip
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    _edit(path, inputs=[{"name": "x", "shape": [-1, 5]}], features=[])
    with pytest.raises(BundleError, match=r"ONNX input 'X' has shape \[-1, 4\], bundle.json dec"):
        read_bundle(path)
    zipmap = to_onnx(clf, X[:1]).SerializeToString()
    io_ = _io(4, 2, out_name="output_probability")
    path = _write(tmp_path / "zm", "router.platform", "onnx", {"r.onnx": zipmap}, **io_)
    with pytest.raises(BundleError, match=r"'output_probability' is not a tensor.*zipmap"):
        read_bundle(path)


@pytest.mark.parametrize(("suffix", "fmt"), [("json", "xgboost-json"), ("ubj", "xgboost-ubj")])
def test_xgboost_round_trip(tmp_path: Path, suffix: str, fmt: str) -> None:
    import xgboost as xgb

    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, label=X[:, 1]), 5)
    model = tmp_path / f"native.{suffix}"
    booster.save_model(str(model))
    path = _write(tmp_path / "forecast", "forecast.load", fmt, {f"m.{suffix}": model}, **_io(4, 1))
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_lightgbm_round_trip(tmp_path: Path) -> None:
    import lightgbm as lgb

    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(X, label=Y), num_boost_round=5)
    text = booster.model_to_string().encode()
    path = _write(
        tmp_path / "spot", "spot.interruption", "lightgbm-text", {"m.txt": text}, **_io(4, 1)
    )
    predicted = read_bundle(path).predictor().predict(X)
    np.testing.assert_allclose(predicted, booster.predict(X), rtol=1e-9)


def test_safetensors_mlp_round_trip_with_normalisation(tmp_path: Path) -> None:
    np.testing.assert_allclose(
        read_bundle(mlp_bundle(tmp_path / "plain")).predictor().predict(X),
        _mlp_reference(X),
        rtol=1e-5,
        atol=1e-5,
    )
    mean, std = [0.5, -1.0, 0.0, 2.0], [1.0, 2.0, 0.5, 4.0]
    path = mlp_bundle(tmp_path / "norm")
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["normalisation"] = {"mean": mean, "std": std}
    (path / "bundle.json").write_text(json.dumps(manifest))
    bundle = read_bundle(path)
    expected = _mlp_reference((X - np.float32(mean)) / np.float32(std))
    np.testing.assert_allclose(bundle.predictor().predict(X), expected, rtol=1e-5, atol=1e-5)
    assert bundle.manifest.features == ("f0", "f1", "f2", "f3")
    assert Manifest.from_json(bundle.manifest.to_json()) == bundle.manifest


def test_zip_pack_is_deterministic_and_extracts_from_path_or_bytes(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "strategic")
    archive = pack_bundle(path, tmp_path / "a.zip")
    assert pack_bundle(path, tmp_path / "b.zip").read_bytes() == archive.read_bytes()
    direct = read_bundle(path).predictor().predict(X)
    for source, dest in ((archive, "from-path"), (archive.read_bytes(), "from-bytes")):
        unpacked = extract_bundle(source, tmp_path / dest)
        np.testing.assert_array_equal(read_bundle(unpacked).predictor().predict(X), direct)
    copied = extract_bundle(path, tmp_path / "from-dir")
    assert read_bundle(copied).manifest == read_bundle(path).manifest


def test_predictor_refuses_a_wrong_input_shape(tmp_path: Path) -> None:
    predictor = read_bundle(mlp_bundle(tmp_path / "b")).predictor()
    with pytest.raises(BundleError, match=r"takes a \(n, 4\) float32 matrix, got shape \(3,\)"):
        predictor.predict(np.zeros(3, dtype=np.float32))


# --- archives ---------------------------------------------------------------------------------


def _zip(target: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(target, "w", method) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return target


def _truncated(tmp: Path) -> Path:
    good = pack_bundle(mlp_bundle(tmp / "b"), tmp / "good.zip").read_bytes()
    (tmp / "truncated.zip").write_bytes(good[: len(good) // 2])
    return tmp / "truncated.zip"


def _symlink(tmp: Path) -> Path:
    with zipfile.ZipFile(tmp / "link.zip", "w") as archive:
        info = zipfile.ZipInfo("bundle.json")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return tmp / "link.zip"


def _lying_sizes(tmp: Path) -> Path:
    """A deflated 4 MB member whose headers (local and central) claim 1,000 bytes."""
    data = bytearray(_zip(tmp / "liar.zip", {"model.bin": b"\0" * (4 << 20)}).read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    (tmp / "liar.zip").write_bytes(bytes(data))
    return tmp / "liar.zip"


def _duplicates(tmp: Path) -> Path:
    """Two members named alike: readers would disagree about which one is the bundle."""
    with zipfile.ZipFile(tmp / "dup.zip", "w") as archive:
        archive.writestr("a.txt", b"1")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("a.txt", b"2")
    return tmp / "dup.zip"


ARCHIVES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "truncated": (_truncated, "not a valid zip"),
    "traversal": (lambda t: _zip(t / "dots.zip", {"../evil": b"x"}), "leaves the bundle folder"),
    "absolute": (lambda t: _zip(t / "abs.zip", {"/etc/cron.d/x": b"x"}), "absolute path"),
    "symlink": (_symlink, "link or special file"),
    "ratio bomb": (
        lambda t: _zip(t / "bomb.zip", {"bomb.bin": b"\0" * (16 << 20)}),
        r"expands \d+x \(limit 100x\).*zip bomb",
    ),
    "too many": (
        lambda t: _zip(t / "many.zip", {f"f{i}": b"x" for i in range(65)}),
        "65 files in the archive; at most 64",
    ),
    "lying sizes": (_lying_sizes, "damaged"),
    "duplicate": (_duplicates, "appears twice"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_malformed_archives_are_refused_and_leave_nothing(tmp_path: Path, case: str) -> None:
    make, message = ARCHIVES[case]
    archive = make(tmp_path)
    dest = tmp_path / "out"
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive, dest)
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive.read_bytes(), dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_total_size_cap_applies_to_incompressible_members(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "big.zip", {"a.bin": os.urandom(3 << 20)}, zipfile.ZIP_STORED)
    with pytest.raises(BundleError, match="above the 2 MB limit"):
        extract_bundle(archive, tmp_path / "out", max_bytes=2 << 20)
    assert not (tmp_path / "out").exists()


def test_bundle_directory_with_a_symlink_is_refused(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    (path / "link").symlink_to("/etc/hostname")
    with pytest.raises(BundleError, match="link or special file"):
        extract_bundle(path, tmp_path / "copy")
    with pytest.raises(BundleError, match="link or special file"):
        read_bundle(path)
    assert not (tmp_path / "copy").exists()


# --- manifest and contents --------------------------------------------------------------------


def _edit(path: Path, **changes: Any) -> None:
    manifest = json.loads((path / "bundle.json").read_text())
    manifest.update(changes)
    (path / "bundle.json").write_text(json.dumps(manifest))


def test_hash_mismatch_missing_and_unlisted_files(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    model = path / "mlp.safetensors"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BundleError, match=r"mlp\.safetensors: sha256 .* does not match"):
        read_bundle(path)
    model.unlink()
    with pytest.raises(BundleError, match=r"mlp\.safetensors is listed in bundle\.json but miss"):
        read_bundle(path)
    model.write_bytes(original)
    (path / "extra.onnx").write_bytes(b"\x08\x07")
    with pytest.raises(BundleError, match=r"not listed in bundle\.json: \['extra\.onnx'\]"):
        read_bundle(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "placement.tactcal"}, r"'placement\.tactcal' .*did you mean 'placement\.tac"),
        ({"format": "onxx"}, r"unknown bundle format 'onxx' \(to fix: did you mean 'onnx'"),
        ({"trained_until": "last week"}, r"'trained_until' is 'last week', not an ISO date"),
        ({"traned_until": UNTIL}, r"unknown bundle\.json field .*did you mean 'trained_until'"),
        ({"files": {"../mlp.safetensors": "0" * 64}}, "not a plain relative path"),
        ({"files": {"mlp.safetensors": "xyz"}}, "must be a sha256"),
        ({"version": 1}, r"'version' must be a non-empty string"),
        ({"features": ["a", "b"]}, r"lists 2 features but input 'x' has 4"),
        ({"outputs": [{"name": "y", "shape": [-1, 0]}]}, r"'outputs'\[0\] 'shape' is \[-1, 0\]"),
    ],
)
def test_manifest_errors_name_the_field_and_the_fix(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = mlp_bundle(tmp_path / "b")
    _edit(path, **changes)
    with pytest.raises(BundleError, match=message) as caught:
        read_bundle(path)
    assert caught.value.fix


def test_shapes_must_fit_the_kind_and_the_manifest(tmp_path: Path) -> None:
    wrong = mlp_bundle(tmp_path / "tactical", kind="placement.tactical", n_out=3)
    with pytest.raises(BundleError, match=r"placement\.tactical bundle outputs 8 values per row"):
        read_bundle(wrong)
    _edit(wrong, outputs=[{"name": "y", "shape": [-1, 8]}])
    with pytest.raises(BundleError, match=r"returns 3 values per row; a placement\.tactical needs"):
        read_bundle(wrong)
    router = mlp_bundle(tmp_path / "router", kind="router.platform", n_out=3, outputs=[
        {"name": "y", "shape": [-1, -1]}])  # fmt: skip
    with pytest.raises(BundleError, match=r"a router\.platform needs 1 or 2"):
        read_bundle(router)
    inputs = mlp_bundle(tmp_path / "inputs")
    _edit(inputs, inputs=[{"name": "x", "shape": [-1, 5]}], features=[])
    with pytest.raises(BundleError, match=r"takes 4 features, bundle\.json declares 5"):
        read_bundle(inputs)


def test_format_must_match_the_file(tmp_path: Path) -> None:
    import xgboost as xgb

    booster = xgb.train({"max_depth": 1, "nthread": 1}, xgb.DMatrix(X, label=X[:, 1]), 2)
    booster.save_model(str(tmp_path / "m.ubj"))
    path = _write(
        tmp_path / "b", "forecast.load", "xgboost-json", {"m.ubj": tmp_path / "m.ubj"}, **_io(4, 1)
    )
    with pytest.raises(BundleError, match=r"m\.ubj is not a xgboost-json file"):
        read_bundle(path)
    onnx = _write(tmp_path / "o", "forecast.load", "onnx", {"m.onnx": b"not onnx"}, **_io(4, 1))
    with pytest.raises(BundleError, match=r"m\.onnx is not a valid ONNX model"):
        read_bundle(onnx)


def test_write_bundle_replaces_whole_and_refuses_foreign_directories(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    (path / "stale.txt").write_text("left from an earlier export")
    mlp_bundle(tmp_path / "b")
    assert not (path / "stale.txt").exists()
    read_bundle(path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="holds no bundle"):
        mlp_bundle(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(BundleError, match="unknown bundle kind"):
        mlp_bundle(tmp_path / "never", kind="placement.tactcal")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "foreign"]


# --- unsafe files -----------------------------------------------------------------------------


class _Payload:
    """Unpickling this writes the marker file: the proof that a loader ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _unsafe_files(tmp_path: Path, marker: Path) -> dict[str, bytes]:
    import joblib
    import torch

    torch_buffer = io.BytesIO()
    torch.save({"payload": _Payload(marker)}, torch_buffer)
    out: dict[str, bytes] = {"model.pt": torch_buffer.getvalue()}
    out["pytorch_model.bin"] = torch_buffer.getvalue()  # judged by content, not by name
    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        buffer = io.BytesIO()
        joblib.dump(_Payload(marker), buffer, compress=compress)
        out[f"model-{compress}.joblib"] = buffer.getvalue()
        out[f"model-{compress}.onnx"] = buffer.getvalue()  # a joblib file under a safe name
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        out[f"model-{protocol}.pkl"] = pickle.dumps(_Payload(marker), protocol=protocol)
        out[f"model-{protocol}.safetensors"] = pickle.dumps(_Payload(marker), protocol=protocol)
    return out


def test_the_payload_is_live_when_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "CONTROL"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == "pwned"


def _hand_written(bundle: Path, name: str, data: bytes) -> Path:
    """write_bundle refuses pickles, so an attacker's bundle is written by hand."""
    bundle.mkdir()
    (bundle / name).write_bytes(data)
    manifest = {
        "name": "evil", "version": "1", "kind": "router.platform", "format": "onnx",
        "trained_until": UNTIL, "created_at": "2026-11-01",
        "inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": [{"name": "y", "shape": [-1, 2]}],
        "files": {name: sha256_of(bundle / name)}, "unsafe": False,
    }  # fmt: skip
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    return bundle


def test_pickle_joblib_and_torch_files_are_refused_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    for i, (name, data) in enumerate(_unsafe_files(tmp_path, marker).items()):
        bundle = _hand_written(tmp_path / f"bundle-{i}", name, data)
        with pytest.raises(UnsafeBundleError, match="would run code") as caught:
            read_bundle(bundle)
        assert caught.value.code == "bundle_unsafe", name
        allowed = read_bundle(bundle, allow_unsafe=True)
        assert allowed.manifest.unsafe, name
        with pytest.raises(UnsafeBundleError, match="never loaded"):
            allowed.predictor()
        with pytest.raises(UnsafeBundleError):
            write_bundle(
                tmp_path / f"written-{i}", name="evil", version="1", kind="router.platform",
                format="onnx", trained_until=UNTIL, files={name: data}, **_io(4, 2),
            )  # fmt: skip
    assert not marker.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("written-", ".written-"))]


def test_an_authors_unsafe_flag_does_not_skip_the_checks(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b", kind="placement.tactical", n_out=3)
    _edit(path, unsafe=True)
    with pytest.raises(BundleError, match="outputs 8 values per row"):
        read_bundle(path, allow_unsafe=True)


# --- CLI --------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_verify_ok_and_failing(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    result = runner.invoke(app, ["bundle", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: b 1 (placement.strategic, safetensors)")
    (path / "mlp.safetensors").write_bytes(b"garbage")
    result = runner.invoke(app, ["bundle", "verify", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "does not match" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_pack_then_verify_and_inspect_the_zip(tmp_path: Path) -> None:
    path = mlp_bundle(tmp_path / "b")
    out = tmp_path / "b.zip"
    result = runner.invoke(app, ["bundle", "pack", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["bundle", "verify", str(out)])
    assert result.exit_code == 0 and result.output.startswith("ok: b 1"), result.output
    result = runner.invoke(app, ["bundle", "inspect", str(out)])
    assert result.exit_code == 0, result.output
    assert "placement.strategic" in result.output and sha256_of(path / "mlp.safetensors")[:16] in (
        result.output.replace("\n", "")
    )


def test_cli_unsafe_bundle_needs_the_flag_and_is_flagged(tmp_path: Path) -> None:
    bundle = _hand_written(tmp_path / "evil", "model.pkl", pickle.dumps({"weights": [1.0]}))
    result = runner.invoke(app, ["bundle", "verify", str(bundle)])
    assert result.exit_code == 1 and result.output.startswith("error: refused"), result.output
    result = runner.invoke(app, ["bundle", "verify", str(bundle), "--allow-unsafe"])
    assert result.exit_code == 0 and "UNSAFE" in result.output, result.output
    result = runner.invoke(app, ["bundle", "inspect", str(bundle)])
    assert result.exit_code == 0 and "warning:" in result.output, result.output
