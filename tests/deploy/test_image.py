"""The server image's contents, proven without a container engine (docs/deploy.md, "Image").

A fresh virtualenv gets exactly what deploy/Dockerfile's builder stage installs (the same
files copied, the same requirement), then: no training stack is importable there, and
``skyroute serve`` from it decides with trained hierarchy bundles and routes with a trained
router bundle -- bundles trained here with the full dev venv, as a sweep would -- and its worker
processes send the spans of those requests to an OTLP/HTTP receiver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from imagespec import DEPLOY, REPO, builder_stage

from apiclient import ADMIN_TOKEN, http_tenant, wait_until_ready
from otlpreceiver import Received, otlp_receiver
from skyroute.bundles import pack_bundle

pytestmark = pytest.mark.slow

TRAINING_STACKS = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "mlflow", "ray")
HIERARCHY_TRACE = "synthetic:functions=60,days=1,seed=4"
HIERARCHY_BUDGET = {"samples": 3000, "epochs": 2, "dqn_steps": 64, "ppo_steps": 256,
                    "lstm_epochs": 1}  # fmt: skip


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_USER")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding what the image's builder stage installs, built the same way."""
    stage = builder_stage(DEPLOY / "Dockerfile")
    context = tmp_path_factory.mktemp("context")  # the build context the builder sees
    for source in stage.copied:
        copy = shutil.copytree if (REPO / source).is_dir() else shutil.copy2
        copy(REPO / source, context / source)
    venv = tmp_path_factory.mktemp("image") / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "pip", "install", "--quiet", stage.install, cwd=context)
    return venv


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny strategic, tactical, forecast and router bundles (tests/learn's smoke budgets)."""
    from skyroute.learn.config import HierarchyConfig, RouterConfig
    from skyroute.learn.pipeline import train_hierarchy
    from skyroute.learn.router_pipeline import train_router

    out = tmp_path_factory.mktemp("bundles")
    train_hierarchy(HierarchyConfig(trace=HIERARCHY_TRACE, **HIERARCHY_BUDGET), out, None)
    router = RouterConfig(trace="synthetic:functions=40,days=1,seed=0", max_rows=1500,
                          families=("mlp",))  # fmt: skip
    train_router(router, out / "router-run")
    return out


@pytest.fixture(scope="module")
def collector() -> Iterator[Received]:
    with otlp_receiver() as received:
        yield received


@pytest.fixture(scope="module")
def server(
    image_venv: Path, tmp_path_factory: pytest.TempPathFactory, collector: Received
) -> Iterator[str]:
    """``skyroute serve`` from the image's venv, configured as the image configures it,
    tracing to ``collector``."""
    data = tmp_path_factory.mktemp("data")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(data),
        "SKYROUTE_ENV": "production",
        "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SKYROUTE_DATA_DIR": str(data / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(data / "metrics"),
        "MPLCONFIGDIR": str(data / "matplotlib"),
        "ML_SERVER_HOST": "127.0.0.1",
        "ML_SERVER_PORT": str(port),
        "ML_SERVER_WORKERS": "2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": "skyroute-image",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms between exports (the SDK's variable)
    }
    log = data / "server.log"
    print(f"server log: {log}")  # shown with a failure
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(image_venv / "bin" / "skyroute"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_image_installs_no_training_stack(image_venv: Path) -> None:
    python = image_venv / "bin" / "python"
    probe = "import importlib.util as u, sys; print(*(m for m in sys.argv[1:] if u.find_spec(m)))"
    assert _run(python, "-c", probe, *TRAINING_STACKS).strip() == ""
    # ... while the server's own stack is there (a probe that finds nothing proves nothing).
    assert _run(python, "-c", probe, "onnxruntime", "fastapi", "skyroute").split() == [
        "onnxruntime", "fastapi", "skyroute",
    ]  # fmt: skip


def _upload(url: str, headers: dict[str, str], directory: Path, name: str) -> None:
    archive = pack_bundle(directory, directory.parent / f"{name}.zip")
    with archive.open("rb") as handle:
        uploaded = httpx.post(
            f"{url}/api/v1/ml/models/upload",
            data={"name": name, "version": "1"},
            files={"file": (archive.name, handle, "application/zip")},
            headers=headers,
            timeout=60,
        )
    assert uploaded.status_code == 201, uploaded.text
    activated = httpx.post(
        f"{url}/api/v1/ml/models/activate",
        json={"model_id": name, "version": "1"},
        headers=headers,
        timeout=30,
    )
    assert activated.status_code == 200, activated.text


def test_the_image_decides_with_the_hierarchy_and_routes(server: str, bundles: Path) -> None:
    from skyroute.learn.dataset import FEATURES

    headers = {"Authorization": f"Bearer {http_tenant(server, 'image')}"}
    for name in ("strategic", "tactical", "forecast"):
        _upload(server, headers, bundles / name, name)
    _upload(server, headers, bundles / "router-run" / "router", "router")
    selected = httpx.post(
        f"{server}/api/v1/ml/engines/select", json={"engine_id": "hierarchical"}, headers=headers
    )
    assert selected.status_code == 200, selected.text
    for origin in ("aws:us-east-1", "azure:westeurope", "gcp:europe-west1"):
        body = {"function": {"id": f"f-{origin}", "duration_ms": 80, "memory_mb": 120,
                             "origin": origin}}  # fmt: skip
        decided = httpx.post(f"{server}/api/v1/ml/decide", json=body, headers=headers)
        assert decided.status_code == 200, decided.text
        answer = decided.json()
        assert answer["engine"] == "hierarchical" and answer["fallback"] is False, answer
        assert set(answer["model_versions"]) == {
            "placement.strategic", "placement.tactical", "forecast.load",
        }  # fmt: skip
    routed = httpx.post(
        f"{server}/api/v1/ml/route", json={"features": dict.fromkeys(FEATURES, 0.5)},
        headers=headers,
    )  # fmt: skip
    assert routed.status_code == 200, routed.text
    assert routed.json()["model_version"] == "router@1" and routed.json()["fallback"] is False
    assert routed.json()["platform"] in ("function", "container")


def test_the_image_workers_export_the_decisions_spans(server: str, collector: Received) -> None:
    """Runs after the decisions above: their spans reach the receiver from the workers."""
    wanted = {"engine.decide", "predict placement.strategic", "predict placement.tactical"}
    deadline = time.monotonic() + 30  # the workers export every 200 ms; this only bounds a wait
    while not wanted <= {span.name for _, span in collector.spans()}:
        assert time.monotonic() < deadline, sorted({span.name for _, span in collector.spans()})
        time.sleep(0.2)
    received = collector.spans()
    assert {service for service, _ in received} == {"skyroute-image"}
    engines = [span for _, span in received if span.name == "engine.decide"]
    values = [{a.key: a.value for a in span.attributes} for span in engines]
    assert {v["skyroute.engine"].string_value for v in values} >= {"hierarchical"}
