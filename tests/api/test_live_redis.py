"""Live streams across processes through the real Redis at 127.0.0.1:6379, and without it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import redis
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from apiclient import ADMIN_TOKEN, decide_body, http_tenant, make_tenant, wait_until_ready
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

LIVE = "/api/v1/ml/decisions/live"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_listeners(channel: str, count: int, timeout_s: float = 30.0) -> None:
    """Until ``count`` processes subscribe to ``channel`` (pub/sub keeps nothing for later)."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    deadline = time.monotonic() + timeout_s
    try:
        while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
            assert time.monotonic() < deadline, f"fewer than {count} listeners on {channel}"
            time.sleep(0.1)
    finally:
        client.close()


def test_a_client_on_one_worker_receives_decisions_of_both(tmp_path: Path) -> None:
    port = _free_port()
    channel = f"skyroute-test-{uuid.uuid4().hex[:8]}"  # runs never hear each other
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ML_", "DECISION_"))},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
        "GAP_FILLER_ENABLED": "false",
        "LOCAL_PREDICTION_STORE": "redis",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "SKYROUTE_LIVE_CHANNEL": channel,
    }
    command = [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        _wait_for_listeners(channel, 2)
        key = http_tenant(url, "watched")
        posted: list[str] = []
        workers: set[str] = set()
        with connect(f"ws://127.0.0.1:{port}{LIVE}?api_key={key}") as ws:
            while len(workers) < 2:
                assert len(posted) < 200, f"every decision came from one worker: {workers}"
                decided = httpx.post(  # a new connection each: the kernel spreads them
                    f"{url}/api/v1/ml/decide",
                    json=decide_body(id=f"f{len(posted)}"),
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert decided.status_code == 200, decided.text
                posted.append(decided.json()["decision_id"])
                event = json.loads(ws.recv(timeout=10))
                assert event["id"] == posted[-1]  # each one, whichever worker made it
                workers.add(event["worker"])
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_without_redis_deciding_goes_on_and_readyz_says_degraded(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'skyroute.db'}",
        admin_token=ADMIN_TOKEN,
        local_prediction_store="redis",
        redis_port=_free_port(),  # nothing listens there
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        tenant = make_tenant(client, "unlucky")
        with client.websocket_connect(LIVE, headers=tenant.headers) as ws:
            decided = tenant.post("/api/v1/ml/decide", json=decide_body())
            assert decided.status_code == 200  # type: ignore[attr-defined]
            event = json.loads(ws.receive_text())  # this process's subscribers still hear it
            assert event["id"] == decided.json()["decision_id"]  # type: ignore[attr-defined]
        ready = client.get("/readyz")
        assert ready.status_code == 200
        streams = ready.json()["streams"]
        assert (streams["backend"], streams["status"]) == ("redis", "degraded")
        assert "Redis" in streams["reason"]


def test_a_prediction_on_one_app_reaches_a_client_of_another(tmp_path: Path) -> None:
    """Two apps (two processes' worth of state) share a database and a Redis channel."""
    channel = f"skyroute-test-{uuid.uuid4().hex[:8]}"

    def settings() -> Settings:
        return Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'skyroute.db'}",
            admin_token=ADMIN_TOKEN,
            gap_filler_enabled=False,
            local_prediction_store="redis",
            live_channel=channel,
        )

    with TestClient(create_app(settings())) as first, TestClient(create_app(settings())) as second:
        _wait_for_listeners(channel, 2)
        tenant = make_tenant(first, "watched")
        url = f"/api/v1/ml/predictions/live?api_key={tenant.key}"
        with second.websocket_connect(url) as ws:
            body = {"instance_type": "m5.large", "region": "us-east-1"}
            predicted = tenant.post("/api/v1/ml/predict/spot-interruption", json=body)
            assert predicted.status_code == 200  # type: ignore[attr-defined]
            event = json.loads(ws.receive_text())
        assert (event["tenant_id"], event["instance_type"]) == (tenant.tenant_id, "m5.large")
        assert event["worker"] == first.app.state.skyroute.live.worker  # type: ignore[attr-defined]


def test_a_drift_alert_stored_by_one_app_reaches_a_client_of_another(tmp_path: Path) -> None:
    """The alerts stream rides the same hub and Redis channel as the other two."""
    from test_drift import _alerts, _decide, _with_model

    channel = f"skyroute-test-{uuid.uuid4().hex[:8]}"

    def settings() -> Settings:
        return Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'skyroute.db'}",
            admin_token=ADMIN_TOKEN,
            gap_filler_enabled=False,
            local_prediction_store="redis",
            live_channel=channel,
            drift_window_size=40,
        )

    with TestClient(create_app(settings())) as first, TestClient(create_app(settings())) as second:
        _wait_for_listeners(channel, 2)
        first.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        for app in (first, second):
            app.app.state.skyroute.drift.close()  # type: ignore[attr-defined]  # only first checks
        tenant = make_tenant(first, "watched")
        _with_model(tenant, tmp_path)
        with second.websocket_connect(f"/api/v1/ml/alerts/live?api_key={tenant.key}") as ws:
            _decide(tenant, 40, seed=7, shift=3.0)
            stored = first.app.state.skyroute.drift.check(tenant.tenant_id)  # type: ignore[attr-defined]
            assert stored
            event = json.loads(ws.receive_text())
        assert event["id"] in {alert["id"] for alert in _alerts(tenant)}
        assert event["worker"] == first.app.state.skyroute.live.worker  # type: ignore[attr-defined]
