"""What tracing costs a decision: /decide latency, tracing off and on (OTLP to a local receiver).

Sequential requests through the real app (FastAPI's TestClient, SQLite in a temporary folder),
for the ``greedy`` engine (memoised, the 5 ms route) and the ``hierarchical`` engine with tiny
strategic, tactical and forecast bundles (tests/bundlemaker.py). The three modes' apps run side
by side in one process and their requests are interleaved one by one, so that the machine's
noise falls on all alike; ``--rounds`` repeats that with fresh apps. "on" exports every span over
OTLP/HTTP to a receiver in another process that decodes them, as a collector would; "on, 10%"
keeps one trace in ten (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``…_ARG=0.1``).
Prints a Markdown table for docs/benchmarks.md:
``PYTHONPATH=src .venv/bin/python benchmarks/bench_tracing.py --requests 200 --rounds 3``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from skyroute.bundles import pack_bundle
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

ADMIN = "bench-admin-token-0123456789"
BODY = {"function": {"id": "fn-1", "duration_ms": 120.0, "memory_mb": 180.0, "payload_kb": 4.0,
                     "origin": "aws:eu-west-1", "rate_per_min": 30.0}}  # fmt: skip


class _Receiver(BaseHTTPRequestHandler):
    spans = 0

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        message = ExportTraceServiceRequest()
        message.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        _Receiver.spans += sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def serve_receiver() -> None:
    """The receiver process: prints its port, counts spans until stdin closes, prints the count."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()
    print(_Receiver.spans, flush=True)


@contextmanager
def receiver(spans: list[int]) -> Iterator[str]:
    """A receiver in its own process (a collector is never in the server's); appends its count."""
    command = [sys.executable, __file__, "--serve-receiver"]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    process = subprocess.Popen(command, text=True, **pipes)  # type: ignore[call-overload]
    assert process.stdin is not None and process.stdout is not None
    try:
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.stdin.close()
        spans.append(int(process.stdout.readline() or 0))
        process.wait(timeout=30)


def _hierarchy(client: TestClient, headers: dict[str, str], folder: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from bundlemaker import mlp_bundle

    made = {
        "fc": mlp_bundle(folder / "f", kind="forecast.load", n_in=12, n_out=12),
        "strat": mlp_bundle(folder / "s", n_in=50),
        "tac": mlp_bundle(folder / "t", kind="placement.tactical", n_in=115, n_out=8),
    }
    for model_id, bundle in made.items():
        archive = pack_bundle(bundle, bundle.with_suffix(".zip"))
        with archive.open("rb") as handle:
            client.post("/api/v1/ml/models/upload", data={"name": model_id, "version": "1"},
                        files={"file": (archive.name, handle, "application/zip")},
                        headers=headers).raise_for_status()  # fmt: skip
        client.post("/api/v1/ml/models/activate", json={"model_id": model_id, "version": "1"},
                    headers=headers).raise_for_status()  # fmt: skip
    client.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"},
                headers=headers).raise_for_status()  # fmt: skip


Decide = Callable[[], float]
#: mode -> (traced, sampled ratio or None for the SDK's default, every trace)
MODES: dict[str, tuple[bool, float | None]] = {
    "off": (False, None), "on": (True, None), "on, 10%": (True, 0.1),
}  # fmt: skip


@contextmanager
def _sampled(ratio: float | None) -> Iterator[None]:
    """The SDK reads its sampler from the environment when the provider is built."""
    if ratio is None:
        yield
        return
    os.environ.update(OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                      OTEL_TRACES_SAMPLER_ARG=str(ratio))  # fmt: skip
    try:
        yield
    finally:
        del os.environ["OTEL_TRACES_SAMPLER"], os.environ["OTEL_TRACES_SAMPLER_ARG"]


@contextmanager
def app_for(engine: str, endpoint: str | None, folder: Path) -> Iterator[Decide]:
    """A warmed-up app deciding with ``engine``, traced to ``endpoint`` (None: off)."""
    settings = Settings(data_dir=folder, admin_token=ADMIN, otel_endpoint=endpoint,
                        gap_filler_enabled=False, live_prediction_interval_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        client.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        made: Any = client.post("/api/v1/admin/tenants", json={"name": "bench"},
                                headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
        headers = {"Authorization": f"Bearer {made.json()['api_key']}"}
        if engine == "hierarchical":
            _hierarchy(client, headers, folder / "bundles")

        def decide() -> float:
            start = time.perf_counter()
            answer = client.post("/api/v1/ml/decide", json=BODY, headers=headers)
            elapsed = (time.perf_counter() - start) * 1000.0
            assert answer.status_code == 200 and answer.json()["engine"] == engine, answer.text
            return elapsed

        for _ in range(20):
            decide()
        yield decide


def run(engine: str, url: str, requests: int, folder: Path) -> dict[str, list[float]]:
    """Milliseconds per /decide per mode, the modes' requests interleaved one by one so that
    the machine's noise falls on every mode alike (the apps share one process)."""
    with ExitStack() as stack:
        apps = {}
        for index, (mode, (traced, ratio)) in enumerate(MODES.items()):
            with _sampled(ratio):
                endpoint = url if traced else None
                apps[mode] = stack.enter_context(app_for(engine, endpoint, folder / str(index)))
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(requests):
            for mode, decide in apps.items():
                times[mode].append(decide())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver()
        return
    rows, spans = [], []
    with receiver(spans) as url, tempfile.TemporaryDirectory() as tmp:
        for engine in ("greedy", "hierarchical"):
            medians: dict[str, list[float]] = {mode: [] for mode in MODES}
            for round_ in range(args.rounds):
                times = run(engine, url, args.requests, Path(tmp) / f"{engine}-{round_}")
                for mode, values in times.items():
                    medians[mode].append(statistics.median(values))
            rows.append((engine, medians))
    print(f"<!-- {platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" {args.requests} requests per mode x {args.rounds} rounds; {spans[0]} spans received"
          " -->")  # fmt: skip
    print("| engine | mode | median per round (ms) | median (ms) | − off (ms) |")
    print("|---|---|---|---:|---:|")
    for engine, medians in rows:
        off = statistics.median(medians["off"])
        for mode, values in medians.items():
            mid = statistics.median(values)
            rounds = ", ".join(f"{v:.2f}" for v in values)
            print(f"| {engine} | {mode} | {rounds} | {mid:.2f} | {mid - off:+.2f} |")


if __name__ == "__main__":
    main()
