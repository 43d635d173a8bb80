"""The Lambda router: handler answers, 400s, fallbacks, SAM template, zips, scenario replay."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundlemaker import SEED_REQUEST as SEED
from bundlemaker import memory_router_bundle

ROOT = Path(__file__).resolve().parents[2]
LAMBDA = ROOT / "deploy" / "lambda"
sys.path.insert(0, str(LAMBDA))

import handler  # noqa: E402
import lambda_zip as package  # noqa: E402
import router_model  # noqa: E402


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return memory_router_bundle(tmp_path / "model")


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the handler at a bundle directory, with a fresh container cache."""

    def point(path: Path) -> None:
        monkeypatch.setenv(router_model.BUNDLE_ENV, str(path))
        router_model.clear_cache()

    yield point
    router_model.clear_cache()


def call(body: Any, **event: Any) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    response = handler.lambda_handler({"body": raw, **event}, None)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_an_answer_has_the_documented_shape(bundle: Path, use: Any) -> None:
    use(bundle)
    status, body = call(SEED, requestContext={"requestId": "r-1"})
    assert status == 200 and body["fallback"] is False
    p = body["prediction"]
    assert p["platform"] == "lambda"  # 128 MB: P(container) 0.33 < 0.5
    assert p["container_probability"] == pytest.approx(0.25 * math.log10(128) - 0.2, abs=1e-5)
    assert p["lambda_probability"] + p["container_probability"] == pytest.approx(1.0)
    assert 0.0 <= p["confidence"] <= 1.0
    m = body["metrics"]
    expected = math.ceil(m["inference_time_ms"]) / 1000 * 0.5 * 0.0000166667
    assert m["inference_cost_usd"] == pytest.approx(expected)
    assert m["timestamp"].endswith("+00:00")
    assert body["request_context"]["workload_type"] == "lightweight_api"
    assert body["request_context"]["request_id"] == "r-1"
    info = body["model_info"]
    assert info["kind"] == "router.platform" and info["feature_set"] == "router.window/1"
    assert info["threshold"] == 0.5
    heavy = call({**SEED, "workload_type": "heavy_processing"})[1]
    assert heavy["prediction"]["platform"] == "container"


def test_base64_bodies_profiles_and_direct_invocations(bundle: Path, use: Any) -> None:
    use(bundle)
    encoded = base64.b64encode(json.dumps(SEED).encode()).decode()
    assert call(encoded, isBase64Encoded=True)[0] == 200
    profile = {"profile": {"memory_mb": 4096, "duration_ms": 900, "calls_per_minute": 2},
               "timestamp": 1_764_417_600}  # fmt: skip
    assert call(profile)[1]["prediction"]["platform"] == "container"
    direct = handler.lambda_handler(SEED, None)
    assert direct["statusCode"] == 200


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"body": "{not json"}, "the body is not JSON"),
        ({"body": None}, "no body"),
        ({"body": "[1, 2]"}, "must be a JSON object, got list"),
        ({"body": "!!!", "isBase64Encoded": True}, "the body is not JSON"),
        ({"body": 12}, "must be JSON text"),
        ({"body": json.dumps({**SEED, "load_pattern": None})}, "'load_pattern'"),
        ({"body": json.dumps({k: v for k, v in SEED.items() if k != "timestamp"})},
         "'timestamp' is missing"),
        ({"body": json.dumps({**SEED, "payload_size_kb": "lots"})}, "'payload_size_kb'"),
        ({"body": json.dumps({**SEED, "payload_size_kb": -3})}, "'payload_size_kb'"),
        ({"body": '{"workload_type": "lightweight_api", "payload_size_kb": NaN}'},
         "'payload_size_kb'"),
        ({"body": json.dumps({**SEED, "time_window": "lunch"})}, "'time_window'"),
        ({"body": json.dumps({**SEED, "extra": 1})}, "'extra' is not known"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    bundle: Path, use: Any, event: dict[str, Any], says: str
) -> None:
    use(bundle)
    response = handler.lambda_handler(event, None)
    assert response["statusCode"] == 400, response
    error = json.loads(response["body"])["error"]
    assert set(error) == {"code", "message", "fix"} and error["code"] == "invalid_request"
    assert says in error["message"], error
    assert error["fix"]


def test_an_event_that_is_not_an_object_is_a_400(bundle: Path, use: Any) -> None:
    use(bundle)
    for event in (None, "text", [SEED]):
        assert handler.lambda_handler(event, None)["statusCode"] == 400


def _corrupt_model(path: Path) -> None:
    next(path.glob("*.safetensors")).write_bytes(b"not a model")


def _corrupt_manifest(path: Path) -> None:
    (path / "bundle.json").write_text("{", encoding="utf-8")


def _other_kind(path: Path) -> None:
    manifest = json.loads((path / "bundle.json").read_text(encoding="utf-8"))
    manifest["kind"] = "forecast.load"
    (path / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda p: shutil.rmtree(p), "bundle.json"),
        (_corrupt_model, "sha256"),
        (_corrupt_manifest, "bundle.json"),
        (_other_kind, "forecast.load"),
    ],
)
def test_a_missing_or_corrupt_bundle_is_a_logged_fallback(
    bundle: Path, use: Any, caplog: pytest.LogCaptureFixture, spoil: Any, says: str
) -> None:
    spoil(bundle)
    use(bundle)
    with caplog.at_level(logging.WARNING, logger="skyroute.lambda"):
        status, body = call(SEED)
    assert status == 200 and body["fallback"] is True
    assert body["prediction"] == {
        "platform": "lambda", "confidence": 0.0,
        "lambda_probability": None, "container_probability": None,
    }  # fmt: skip
    assert str(bundle) in body["fallback_reason"] and says in body["fallback_reason"]
    assert any("cannot be used" in r.getMessage() for r in caplog.records)
    # Loaded once per container: the failure is kept, the next call does not re-read.
    assert router_model.current() is router_model.current()


def test_a_model_that_answers_no_probability_is_a_fallback(tmp_path: Path, use: Any) -> None:
    from safetensors.numpy import load_file, save_file

    bundle = memory_router_bundle(tmp_path / "model")
    use(bundle)
    model = next(tmp_path.glob("*.safetensors"))
    tensors = load_file(str(model))
    tensors["layers.0.bias"][1] = 5.0  # P(container) > 1
    save_file(tensors, str(model))
    from skyroute.bundles.verify import sha256_of

    manifest = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
    copied = bundle / manifest["model_file"]
    copied.write_bytes(model.read_bytes())
    manifest["files"][manifest["model_file"]] = sha256_of(copied)
    (bundle / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    status, body = call(SEED)
    assert status == 200 and body["fallback"] is True
    assert "not a probability" in body["fallback_reason"]


def test_the_container_loads_the_bundle_once(bundle: Path, use: Any) -> None:
    use(bundle)
    first = router_model.current()
    call(SEED)
    call(SEED)
    assert router_model.current() is first


def _template() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, tag, node: None)
    return yaml.load((LAMBDA / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)


def test_the_sam_template_is_clean_under_cfn_lint_and_says_what_the_brief_says() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    linted = subprocess.run(
        [str(cfn_lint), str(LAMBDA / "template.yaml")], capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    resources = _template()["Resources"]
    fn = resources["RouterFunction"]["Properties"]
    assert fn["Runtime"] == "python3.11" and fn["MemorySize"] == 512
    assert fn["Handler"] == "handler.lambda_handler"
    event = fn["Events"]["Predict"]["Properties"]
    assert (event["Method"], event["Path"]) == ("post", "/predict")
    assert resources["RouterRuntimeLayer"]["Type"] == "AWS::Serverless::LayerVersion"
    assert fn["MemorySize"] == handler.DEFAULT_MEMORY_MB


def test_a_template_error_is_caught_by_cfn_lint(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    text = (LAMBDA / "template.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("MemorySize: 512", "MemorySize: 99999"), "utf-8")
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    linted = subprocess.run([str(cfn_lint), str(broken)], capture_output=True, text=True)
    assert linted.returncode != 0 and "99999" in linted.stdout


def test_the_function_zip_and_layer_fit_lambda_and_run_on_their_own(
    bundle: Path, tmp_path: Path
) -> None:
    function = package.build_function(bundle, tmp_path / "function.zip")
    with zipfile.ZipFile(function.path) as zf:
        names = set(zf.namelist())
    assert {"handler.py", "router_model.py", "model/bundle.json"} <= names
    assert "skyroute/bundles/router_request.py" in names
    assert not any(
        n.startswith(("skyroute/serve", "skyroute/learn", "skyroute/world")) for n in names
    )
    lightgbm_layer = package.layer_files("lightgbm-text")
    tops = {Path(arc).parts[1] for _, arc in lightgbm_layer}
    assert {"numpy", "pydantic", "lightgbm", "scipy"} <= tops
    assert not tops & {"sklearn", "pandas", "torch", "fastapi", "skyroute"}
    layer_bytes = sum(src.stat().st_size for src, _ in lightgbm_layer)
    assert package.problems(function, layer_bytes) == []
    assert package.problems(function, package.UNZIPPED_LIMIT) != []  # the check can fail
    # The function zip and a safetensors layer, alone on the path (no site-packages).
    task, layer = tmp_path / "task", tmp_path / "layer"
    zipfile.ZipFile(function.path).extractall(task)
    for src, arc in package.layer_files("safetensors"):
        (layer / arc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, layer / arc)
    probe = (
        f"import sys, json; sys.path[:0] = [{str(task)!r}, {str(layer / 'python')!r}]; "
        "import handler; "
        f"r = handler.lambda_handler({{'body': json.dumps({SEED!r})}}); "
        "print(r['statusCode'], json.loads(r['body'])['fallback'])"
    )
    ran = subprocess.run(
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert ran.stdout.split() == ["200", "False"], ran.stdout + ran.stderr


def test_the_replay_answers_the_six_scenarios_within_the_latency_it_reports(
    bundle: Path,
) -> None:
    rounds = 5
    ran = subprocess.run(
        [sys.executable, str(LAMBDA / "replay_scenarios.py"), "--rounds", str(rounds), "--json"],
        capture_output=True, text=True, check=True,
        env={"ROUTER_BUNDLE_DIR": str(bundle), "PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    )  # fmt: skip
    record = json.loads(ran.stdout)
    calls = record["calls"]
    assert len(calls) == rounds * 6
    # 1 GB and more: P(container) = 0.25 log10(MB) - 0.2 reaches the threshold (0.5).
    heavy = {"heavy processing", "medium processing, large payload"}
    for c in calls:
        assert c["status"] == 200 and c["body"]["fallback"] is False, c
        platform = c["body"]["prediction"]["platform"]
        assert platform == ("container" if c["scenario"] in heavy else "lambda"), c
        assert c["reported_ms"] <= c["wall_ms"]
    s = record["stats"]
    assert s["calls"] == len(calls) and s["warm_calls"] == len(calls) - 1
    assert s["cold_ms"] == calls[0]["wall_ms"]
    warm = sorted(c["wall_ms"] for c in calls[1:])
    assert warm[0] <= s["warm_p50_ms"] <= s["warm_p95_ms"] <= s["warm_max_ms"] == warm[-1]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=20,
)
near_seed = st.fixed_dictionaries(
    {}, optional={k: st.sampled_from([v, None, "x", -1, 1e308, [], {}]) for k, v in SEED.items()}
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(json_values, near_seed, st.text(max_size=40)), encode=st.booleans())
def test_no_body_makes_an_unhandled_exception(bundle_dir: Path, body: Any, encode: bool) -> None:
    os.environ[router_model.BUNDLE_ENV] = str(bundle_dir)
    raw = body if isinstance(body, str) and not encode else json.dumps(body)
    response = handler.lambda_handler({"body": raw}, None)
    assert response["statusCode"] in (200, 400)
    answer = json.loads(response["body"])
    if response["statusCode"] == 200:
        assert answer["fallback"] is False
    else:
        assert set(answer["error"]) == {"code", "message", "fix"}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = memory_router_bundle(tmp_path_factory.mktemp("fuzz") / "model")
    before = os.environ.get(router_model.BUNDLE_ENV)
    router_model.clear_cache()
    yield path
    router_model.clear_cache()
    if before is None:
        os.environ.pop(router_model.BUNDLE_ENV, None)
    else:
        os.environ[router_model.BUNDLE_ENV] = before
