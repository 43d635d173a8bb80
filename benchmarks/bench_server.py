"""Decision server throughput and latency: one uvicorn worker, greedy engine, SQLite.

Run with ``make bench-server``. Starts ``skyroute serve`` (1 worker) in a temporary directory,
creates a tenant, then drives it from client threads in this process for ``--seconds`` each:
single decisions (latency percentiles, decisions/s) and the batch endpoint (decisions/s).
The client shares the machine's 2 cores with the server, so figures are a lower bound.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx

BODY = {
    "function": {
        "id": "resize",
        "duration_ms": 120.0,
        "memory_mb": 180.0,
        "payload_kb": 4.0,
        "origin": "aws:eu-west-1",
        "rate_per_min": 30.0,
    }
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    port = free_port()
    workdir = tempfile.mkdtemp()
    env = {**os.environ, "SKYROUTE_ADMIN_TOKEN": "bench", "DECISION_ENGINE_ACTIVE": "greedy"}
    server = subprocess.Popen(
        [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        key = httpx.post(
            f"{url}/api/v1/admin/tenants",
            json={"name": "bench"},
            headers={"Authorization": "Bearer bench"},
        ).json()["api_key"]
        headers = {"Authorization": f"Bearer {key}"}
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop = threading.Event()

        def single() -> None:
            nonlocal errors
            with httpx.Client(base_url=url, headers=headers) as client:
                while not stop.is_set():
                    start = time.perf_counter()
                    response = client.post("/api/v1/ml/decide", json=BODY)
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
                        errors += response.status_code != 200

        for _ in range(20):
            httpx.post(f"{url}/api/v1/ml/decide", json=BODY, headers=headers)
        threads = [threading.Thread(target=single) for _ in range(args.clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - began
        ms = sorted(1000 * x for x in latencies)
        machine = f"{platform.machine()} {os.cpu_count()} cores"
        print(f"machine: {machine}, python {platform.python_version()}")
        rate = len(ms) / took
        print(f"single: {len(ms)} decisions in {took:.1f} s = {rate:,.0f}/s, {errors} errors")
        print(
            f"single latency ms: p50 {statistics.median(ms):.2f}, "
            f"p99 {ms[int(0.99 * (len(ms) - 1))]:.2f} ({args.clients} client threads)"
        )
        batch = {"requests": [{**BODY, "caller_key": f"c{i}"} for i in range(args.batch)]}
        count, began = 0, time.perf_counter()
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while time.perf_counter() - began < args.seconds:
                response = client.post("/api/v1/ml/decide/batch", json=batch)
                assert response.status_code == 200, response.text[:200]
                count += args.batch
        took = time.perf_counter() - began
        print(f"batch of {args.batch}: {count / took:,.0f} decisions/s")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
