"""Decision server under open-loop load: one uvicorn worker, greedy engine, SQLite by default.

Run with ``make bench-server`` (``--quick`` for a short run). The server runs under
``taskset -c 0`` and this generator pins itself to core 1, so the two do not share a core.
Measured, in order: start-up to the first ``/healthz`` 200; ``/healthz`` and ``/decide`` at
constant arrival rates (latency from each request's scheduled send time); the saturation
throughput of each (closed loop); the batch endpoint (1,000 decisions per call); 2x and 5x
``/decide`` capacity (goodput, shed share, p99 of the accepted, recovery after the load); and
optionally the server's RSS after minutes at 500/s. Prints a markdown table for
docs/benchmarks.md with the machine and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Result, Target, closed_loop, open_loop, percentile, probe_recovery

FUNCTION = {
    "id": "resize",
    "duration_ms": 120.0,
    "memory_mb": 180.0,
    "payload_kb": 4.0,
    "origin": "aws:eu-west-1",
    "rate_per_min": 30.0,
}
ORIGINS = ("aws:eu-west-1", "aws:us-east-1", "gcp:europe-west1", "azure:eastus", "aws:ap-south-1")


def functions(n: int, seed: int = 7) -> list[dict[str, object]]:
    """``n`` distinct function profiles (the same ``n`` every run): a tenant's fleet."""
    rng = random.Random(seed)
    return [
        {
            "id": f"fn-{i}",
            "duration_ms": round(rng.uniform(5, 2_000), 1),
            "memory_mb": rng.choice((128, 180, 256, 512, 1_024, 2_048, 3_000)),
            "payload_kb": round(rng.uniform(0, 64), 1),
            "origin": ORIGINS[i % len(ORIGINS)],
            "rate_per_min": round(rng.uniform(1, 600), 1),
        }
        for i in range(n)
    ]


ADMIN = "bench-admin-token"


@dataclass(frozen=True)
class Options:
    seconds: float
    rates: tuple[int, ...]
    overload_seconds: float
    rss_minutes: float
    database_url: str
    workers: int
    functions: int


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pin(cpu: int, command: list[str]) -> list[str]:
    """Prefix ``command`` with taskset when the machine has the core and the tool."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu), *command]
    return command


@contextmanager
def server(options: Options) -> Iterator[tuple[str, int, float, int]]:
    """(host, port, seconds to the first /healthz 200, pid) of a fresh `skyroute serve`."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="skyroute-bench-")
    env = {
        **os.environ,
        "SKYROUTE_ADMIN_TOKEN": ADMIN,
        "DECISION_ENGINE_ACTIVE": "greedy",
        "ML_SERVER_WORKERS": str(options.workers),
    }
    if options.database_url:
        env["SKYROUTE_DATABASE_URL"] = options.database_url
    command = [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)]
    began = time.perf_counter()
    process = subprocess.Popen(
        pin(0, command),
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.perf_counter() - began > 120:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        startup = time.perf_counter() - began
        yield "127.0.0.1", port, startup, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)


def ready(url: str, seconds: float = 60) -> None:
    deadline = time.perf_counter() + seconds
    while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"not ready: {httpx.get(f'{url}/readyz').text}")
        time.sleep(0.05)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn workers), in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f}"


def row(label: str, result: Result, rate: float | None = None) -> str:
    ok = result.ok
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result.statuses.items()))
    failures = ", ".join(f"{k}: {n}" for k, n in sorted(result.failures.items()))
    offered = f"{rate:,.0f}" if rate is not None else f"closed ({result.offered:,} sent)"
    return (
        f"| {label} | {offered} | {len(ok) / result.seconds:,.0f} | {ms(percentile(ok, 0.5))} "
        f"| {ms(percentile(ok, 0.99))} | {ms(percentile(ok, 0.999))} | {result.errors} "
        f"| {statuses}{'; ' + failures if failures else ''} |"
    )


async def measure(host: str, port: int, options: Options, pid: int) -> list[str]:
    url = f"http://{host}:{port}"
    ready(url)
    created = httpx.post(
        f"{url}/api/v1/admin/tenants",
        json={"name": "bench"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    created.raise_for_status()
    auth = {"Authorization": f"Bearer {created.json()['api_key']}"}
    health = Target.make(host, port, "GET", "/healthz")
    bodies = [json.dumps({"function": f}).encode() for f in functions(options.functions)]
    decide = Target.make(host, port, "POST", "/api/v1/ml/decide", bodies, auth)
    batch_body = json.dumps(
        {"requests": [{"function": FUNCTION, "caller_key": f"c{i}"} for i in range(1000)]}
    ).encode()
    batch = Target.make(host, port, "POST", "/api/v1/ml/decide/batch", batch_body, auth)

    lines = [
        "| load | offered /s | 2xx /s | p50 ms | p99 ms | p99.9 ms | errors | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    await closed_loop(decide, 2.0, 4)  # warm-up: imports, caches, the first commits
    await closed_loop(health, 1.0, 4)
    normal: dict[str, Result] = {}
    for name, target in (("/healthz", health), ("/decide", decide)):
        for rate in options.rates:
            result = await open_loop(target, rate, options.seconds)
            normal[f"{name}@{rate}"] = result
            lines.append(row(f"`{name}` open loop", result, rate))
    capacity: dict[str, float] = {}
    for name, target in (("/healthz", health), ("/decide", decide)):
        result = await closed_loop(target, options.seconds, 16)
        capacity[name] = len(result.ok) / result.seconds
        lines.append(row(f"`{name}` saturation (16 connections)", result))
    result = await closed_loop(batch, options.seconds, 2)
    lines.append(row("`/decide/batch` x1,000 (2 connections)", result))
    batch_rate = 1000 * len(result.ok) / result.seconds

    lower = min(options.rates)
    baseline = normal[f"/decide@{lower}"].ok
    normal_s = max(0.010, 2 * percentile(baseline, 0.99))
    overload: list[str] = []
    for factor in (2, 5):
        rate = factor * capacity["/decide"]
        result = await open_loop(decide, rate, options.overload_seconds, connections=256)
        recovery = await probe_recovery(decide, normal_s)
        lines.append(row(f"`/decide` overload {factor}x capacity", result, rate))
        goodput = len(result.ok) / result.seconds
        shed = result.count(429, 430) + result.count(503, 504)
        overload.append(
            f"- {factor}x ({rate:,.0f}/s for {options.overload_seconds:.0f} s): goodput "
            f"{goodput:,.0f}/s = {100 * goodput / capacity['/decide']:.0f}% of capacity; "
            f"shed {100 * shed / max(1, result.offered):.0f}% "
            f"({result.retry_after:,} with Retry-After); p99 of accepted "
            f"{ms(percentile(result.ok, 0.99))} ms; errors {result.errors}; back to normal "
            f"(10 probes in a row ≤ {ms(normal_s)} ms) {recovery:.2f} s after the load ended"
        )
        await asyncio.sleep(2)

    summary = [
        f"- `/decide` capacity {capacity['/decide']:,.0f}/s = "
        f"{capacity['/decide'] / capacity['/healthz']:.2f} x `/healthz` "
        f"({capacity['/healthz']:,.0f}/s); batch {batch_rate:,.0f} decisions/s",
        *overload,
    ]
    if options.rss_minutes > 0:
        result = await open_loop(decide, 500, 30)
        warm = rss_mb(pid)
        result = await open_loop(decide, 500, 60 * options.rss_minutes)
        lines.append(row(f"`/decide` {options.rss_minutes:g} min", result, 500))
        summary.append(
            f"- RSS after 30 s at 500/s {warm:.0f} MB; after {options.rss_minutes:g} more "
            f"minutes {rss_mb(pid):.0f} MB"
        )
    return [*lines, "", *summary]


def run(coroutine: Coroutine[Any, Any, list[str]]) -> list[str]:
    """Run on uvloop when it is installed (a cheaper event loop for the generator)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s per rate, 5 s overloads")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate and saturation")
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--overload-seconds", type=float, default=30.0)
    parser.add_argument("--rss-minutes", type=float, default=0.0, help="the doc wants 10")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--functions",
        type=int,
        default=1000,
        help="distinct function profiles /decide cycles through (100000: every request new)",
    )
    args = parser.parse_args()
    options = Options(
        seconds=2.0 if args.quick else args.seconds,
        rates=tuple(int(r) for r in args.rates.split(",")),
        overload_seconds=5.0 if args.quick else args.overload_seconds,
        rss_minutes=args.rss_minutes,
        database_url=args.database_url,
        workers=args.workers,
        functions=args.functions,
    )
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    with server(options) as (host, port, startup, pid):
        lines = run(measure(host, port, options, pid))
    database = "PostgreSQL" if options.database_url else "SQLite"
    print(f"Machine: {machine()}")
    print(f"Command: {' '.join(['python', 'benchmarks/bench_server.py', *sys.argv[1:]])}")
    print(
        f"Server: `skyroute serve`, {options.workers} worker(s), greedy, {database}, "
        f"under taskset -c 0; generator on core 1; /decide cycles through "
        f"{options.functions:,} distinct functions"
    )
    print(f"Start-up to the first /healthz 200: {startup:.2f} s\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
