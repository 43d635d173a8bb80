"""Helpers for API tests: a tenant-bound client and request bodies."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

ADMIN_TOKEN = "admin-secret-for-tests"


@dataclass(frozen=True)
class TenantClient:
    """A client that sends one tenant's key with every request."""

    client: TestClient
    tenant_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, url: str, **kw: object) -> object:
        return self.client.get(url, headers=self.headers, **kw)  # type: ignore[arg-type]

    def post(self, url: str, **kw: object) -> object:
        headers = {**self.headers, **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.post(url, headers=headers, **kw)  # type: ignore[arg-type]

    def put(self, url: str, **kw: object) -> object:
        return self.client.put(url, headers=self.headers, **kw)  # type: ignore[arg-type]

    def delete(self, url: str, **kw: object) -> object:
        return self.client.delete(url, headers=self.headers, **kw)  # type: ignore[arg-type]


def make_tenant(client: TestClient, name: str) -> TenantClient:
    response = client.post(
        "/api/v1/admin/tenants",
        json={"name": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return TenantClient(client, body["tenant_id"], body["api_key"])


def upload_and_activate(
    tenant: TenantClient, archive: Path, model_id: str, version: str = "1"
) -> None:
    """Upload the bundle zip ``archive`` as ``model_id`` ``version`` and make it the active one."""
    with archive.open("rb") as handle:
        uploaded: Any = tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": model_id, "version": version},
            files={"file": (archive.name, handle, "application/zip")},
        )
    assert uploaded.status_code == 201, uploaded.text
    activated: Any = tenant.post(
        "/api/v1/ml/models/activate", json={"model_id": model_id, "version": version}
    )
    assert activated.status_code == 200, activated.text


def decide_body(**function: object) -> dict[str, object]:
    profile = {
        "id": "fn-1",
        "duration_ms": 120.0,
        "memory_mb": 180.0,
        "payload_kb": 4.0,
        "origin": "aws:eu-west-1",
        "rate_per_min": 30.0,
        **function,
    }
    return {"function": profile}


class LiveServer:
    """The app under a real uvicorn server in a thread, for tests that need real concurrency."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    """Poll ``url``/readyz until 200; fail if the server process ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "no server"
        time.sleep(0.1)


def http_tenant(url: str, name: str) -> str:
    """A new tenant's API key, made through a live server's admin API."""
    response = httpx.post(
        f"{url}/api/v1/admin/tenants",
        json={"name": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    key: str = response.json()["api_key"]
    return key
