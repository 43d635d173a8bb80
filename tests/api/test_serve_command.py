"""`skyroute serve` with no configuration starts, and two apps share state through the database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from apiclient import ADMIN_TOKEN, make_tenant
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bare_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ML_", "SKYROUTE_", "DECISION_", "GAP_FILLER_", "MODEL_"))
    }


def _world_still_building(response: httpx.Response) -> bool:
    reasons = response.json().get("reasons", []) if response.status_code == 503 else []
    return any("still being built" in reason for reason in reasons)


def test_serve_without_configuration_answers_with_greedy(tmp_path: Path) -> None:
    """No environment at all: ready at once, and a tenant's /decide is a greedy placement."""
    env = _bare_env()
    created = subprocess.run(
        [sys.executable, "-m", "skyroute.cli.main", "tenant", "create", "first"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = created.stdout.split("API key (shown once): ")[1].split()[0]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if not _world_still_building(response):  # /healthz answers before that
                    break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        decided = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ml/decide",
            json={"function": {"id": "f", "duration_ms": 80, "memory_mb": 128,
                               "origin": "aws:us-east-1"}},
            headers={"Authorization": f"Bearer {key}"},
        )  # fmt: skip
        assert decided.status_code == 200, decided.text
        assert decided.json()["engine"] == "greedy"
        assert decided.json()["placement"]["memory_mb"] >= 128
        assert (tmp_path / ".skyroute" / "skyroute.db").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal as its exit status.
    assert process.returncode in (0, -15)
    assert b"Application shutdown complete" in output, output


def test_serve_refuses_an_unknown_engine_and_says_why(tmp_path: Path) -> None:
    env = _bare_env() | {"DECISION_ENGINE_ACTIVE": "bogus"}
    done = subprocess.run(
        [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(_free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "DECISION_ENGINE_ACTIVE='bogus' is not an engine" in said, said
    assert "greedy" in said and "Traceback" not in said


def test_two_server_processes_share_state_through_the_database(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        tenant = make_tenant(first, "shared")
        headers = {"Authorization": f"Bearer {tenant.key}"}
        first.post("/api/v1/ml/engines/select", json={"engine_id": "greedy"}, headers=headers)
        body: Any = {
            "function": {"id": "f", "duration_ms": 50, "memory_mb": 100, "origin": "aws:us-east-1"}
        }
        decided = second.post(
            "/api/v1/ml/decide", json=body, headers={**headers, "Idempotency-Key": "k1"}
        )
        assert decided.status_code == 200, decided.text
        again = first.post(
            "/api/v1/ml/decide", json=body, headers={**headers, "Idempotency-Key": "k1"}
        )
        assert again.json() == decided.json()
        assert ADMIN_TOKEN  # the tenant was created with the admin token of the settings
