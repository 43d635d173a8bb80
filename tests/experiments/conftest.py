"""Real services for the end of a sweep, started per test and killed after.

- ``mlflow_pg_server``: an MLflow tracking server whose backend store is a fresh PostgreSQL
  database at 127.0.0.1:5432 (dropped after), artifacts in a tmp dir; yields its URL.
- ``mlflow_sqlite_uri``: a local store in a tmp dir (MLflow 3 refuses the ``file:`` store).
- ``pushgateway``: Debian's ``/usr/bin/prometheus-pushgateway`` on a free port; yields its URL.
- ``webhook_receiver``: a local HTTP server that records what was posted to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiclient import ADMIN_TOKEN, LiveServer
from pgtemp import fresh_database
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or hangs."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            pytest.fail(f"{url} never answered (exit {process.poll()}):\n{tail}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server and every process it started (its own session: one group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # mlflow's uvicorn worker may outlive its parent.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _start(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL with psycopg 3), dropped after the test."""
    with fresh_database("mlflow") as name:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def mlflow_pg_server(postgres_database: str, tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` on a free port, backed by a fresh PostgreSQL database; its URL."""
    port = free_port()
    artifacts = tmp_path / "mlflow-artifacts"
    artifacts.mkdir()
    mlflow = Path(sys.executable).with_name("mlflow")
    argv = [
        str(mlflow), "server", "--backend-store-uri", postgres_database,
        "--default-artifact-root", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    # No background job runner (huey consumers): nothing here needs it, and cores are shared.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = tmp_path / "mlflow-server.log"
    process = _start(argv, log, env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(f"{url}/health", process, log)
        yield url
    finally:
        _stop(process)


@pytest.fixture
def mlflow_sqlite_uri(tmp_path: Path) -> str:
    """A local tracking store in ``tmp_path`` (artifacts go where the experiment says)."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus Pushgateway on a free port; its URL."""
    if not PUSHGATEWAY.exists():
        pytest.fail(f"{PUSHGATEWAY} is missing: run scripts/system-deps.sh")
    port = free_port()
    log = tmp_path / "pushgateway.log"
    # In memory only: Debian's default persistence file (/var/lib/prometheus/, there once the
    # prometheus package is installed) would carry one test's pushes into the next gateway.
    # A route prefix of its own: if another test's gateway took the port first (free_port
    # races between xdist workers), this URL gets 404 there instead of sharing its metrics.
    prefix = f"gw{uuid.uuid4().hex[:12]}"
    argv = [
        str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}", f"--web.route-prefix=/{prefix}",
        "--persistence.file=",
    ]  # fmt: skip
    process = _start(argv, log)
    url = f"http://127.0.0.1:{port}/{prefix}"
    try:
        _wait_until_answers(f"{url}/-/ready", process, log)
        yield url
    finally:
        _stop(process)


class WebhookReceiver:
    """A local Slack-like webhook: records JSON bodies, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok" if outer.status < 400 else b"invalid_payload")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/sweep"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A SkyRoute server (the real app under uvicorn, SQLite) for uploads; yields its URL."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'skyroute.db'}",
        model_upload_dir=tmp_path / "models",
        engine_dir=tmp_path / "engines",
        admin_token=ADMIN_TOKEN,
    )
    with LiveServer(create_app(settings)) as live:
        yield live.url
