"""Two server workers report one set of Prometheus counters, with labels from fixed sets, and
the same recommended replicas whichever worker computed them."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from apiclient import ADMIN_TOKEN, decide_body, http_tenant, wait_until_ready

HEALTH_COUNT = re.compile(
    r'^skyroute_http_request_seconds_count\{method="GET",route="/healthz",status="200"\} (\S+)$',
    re.M,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _count(text: str, pattern: re.Pattern[str]) -> float:
    return sum(float(value) for value in pattern.findall(text))


def test_two_workers_report_the_sum_of_their_counts(tmp_path: Path) -> None:
    port = _free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's leftovers
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ML_", "DECISION_"))},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
        "DECISION_ENGINE_ACTIVE": "greedy",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GAP_FILLER_ENABLED": "false",
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
        key = http_tenant(url, "metrics")
        before = _count(httpx.get(f"{url}/metrics").text, HEALTH_COUNT)
        for _ in range(60):  # a new connection each: the kernel spreads them over both workers
            assert httpx.get(f"{url}/healthz").status_code == 200
        for i in range(6):
            decided = httpx.post(
                f"{url}/api/v1/ml/decide",
                json=decide_body(id=f"f{i}"),
                headers={"Authorization": f"Bearer {key}"},
            )
            assert decided.status_code == 200, decided.text
        auth = {"Authorization": f"Bearer {key}"}
        series = f"{url}/api/v1/ml/autoscale/series/web"
        assert httpx.put(series, json={"capacity_per_replica": 10}, headers=auth).is_success
        load = {"points": [{"minute": "2026-11-29T10:00:00Z", "calls": 65.0}]}
        posted = httpx.post(f"{series}/load", json=load, headers=auth)
        assert posted.json()["recommendation"]["replicas"] == 10, posted.text  # 65 / 7
        pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("histogram_*.db")}
        assert len(pids) == 2, pids  # both workers counted requests...
        for _ in range(4):  # ...and whichever answers /metrics reports the sum
            text = httpx.get(f"{url}/metrics").text
            assert _count(text, HEALTH_COUNT) - before == 60
            decisions = re.findall(
                r'^skyroute_decisions_total\{engine="(\w+)",.*\} (\S+)$', text, re.M
            )
            assert sum(float(n) for _, n in decisions) == 6
            assert {engine for engine, _ in decisions} == {"greedy"}
            # The recommendation, computed by one worker, is what every worker reports.
            assert re.search(
                r'^skyroute_recommended_replicas\{series_id="\w+"\} 10\.0$', text, re.M
            )
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert not (metrics_dir / "counter_999999.db").exists()
