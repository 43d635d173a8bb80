"""`skyroute serve` with no configuration starts ready (engine ``greedy``), and two apps share
state through the database."""

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


def test_serve_without_configuration_is_ready_with_greedy(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ML_", "SKYROUTE_", "DECISION_"))
    }
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
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json()["engine"] == "greedy"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert (tmp_path / ".skyroute" / "skyroute.db").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal as its exit status.
    assert process.returncode in (0, -15)
    assert b"Application shutdown complete" in output, output


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
