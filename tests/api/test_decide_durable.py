"""A decision answered by `skyroute serve` survives SIGKILL of the server (group commit)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from apiclient import ADMIN_TOKEN, decide_body, http_tenant, wait_until_ready
from skyroute.serve.db import make_engine
from skyroute.serve.tables import Decision


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_answered_decision_is_stored_after_sigkill(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ML_", "DECISION_"))},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SKYROUTE_DATABASE_URL": database_url,
        "GAP_FILLER_ENABLED": "false",
    }
    command = [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        wait_until_ready(url, server)
        key = http_tenant(url, "durable")

        def client(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=10) as http:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    body = decide_body(id=f"w{worker}-{i % 20}", duration_ms=10 + i % 50)
                    try:
                        response = http.post(
                            "/api/v1/ml/decide",
                            json=body,
                            headers={"Authorization": f"Bearer {key}"},
                        )
                    except httpx.TransportError:
                        return  # the server is gone
                    if response.status_code == 200:
                        with lock:
                            answered.append(response.json()["decision_id"])

        threads = [threading.Thread(target=client, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        while len(answered) < 300 and all(t.is_alive() for t in threads):
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
        server.wait(30)
        stop.set()
        for thread in threads:
            thread.join(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    assert len(answered) >= 300
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.execute(select(Decision.id)).scalars())
    finally:
        engine.dispose()
    missing = set(answered) - stored
    assert not missing, f"{len(missing)} answered decisions lost, e.g. {sorted(missing)[:3]}"
