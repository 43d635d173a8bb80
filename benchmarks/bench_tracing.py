"""What tracing costs a decision: /decide latency, tracing off and on (OTLP to a local receiver).

Sequential requests through the real app (FastAPI's TestClient, SQLite in a temporary folder),
for the ``greedy`` engine (memoised, the 5 ms route) and the ``hierarchical`` engine with tiny
strategic, tactical and forecast bundles (tests/bundlemaker.py), each mode alternated over
``--rounds`` rounds so that machine noise falls on both. "on" exports every span over OTLP/HTTP
to a receiver in this process that decodes them, as a collector would. Prints a Markdown table
for docs/benchmarks.md:
``PYTHONPATH=src .venv/bin/python benchmarks/bench_tracing.py --requests 200 --rounds 3``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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


def run(engine: str, endpoint: str | None, requests: int, folder: Path) -> list[float]:
    """Milliseconds per /decide, ``requests`` of them after 20 warm-up calls."""
    settings = Settings(data_dir=folder, admin_token=ADMIN, otel_endpoint=endpoint,
                        gap_filler_enabled=False, live_prediction_interval_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        client.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        made: Any = client.post("/api/v1/admin/tenants", json={"name": "bench"},
                                headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
        headers = {"Authorization": f"Bearer {made.json()['api_key']}"}
        if engine == "hierarchical":
            _hierarchy(client, headers, folder / "bundles")
        for _ in range(20):
            client.post("/api/v1/ml/decide", json=BODY, headers=headers).raise_for_status()
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            answer = client.post("/api/v1/ml/decide", json=BODY, headers=headers)
            times.append((time.perf_counter() - start) * 1000.0)
            assert answer.status_code == 200 and answer.json()["engine"] == engine, answer.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with receiver() as url, tempfile.TemporaryDirectory() as tmp:
        for engine in ("greedy", "hierarchical"):
            medians: dict[str, list[float]] = {"off": [], "on": []}
            for round_ in range(args.rounds):
                for mode, endpoint in (("off", None), ("on", url)):
                    folder = Path(tmp) / f"{engine}-{mode}-{round_}"
                    times = run(engine, endpoint, args.requests, folder)
                    medians[mode].append(statistics.median(times))
            off, on = statistics.median(medians["off"]), statistics.median(medians["on"])
            rows.append((engine, medians, off, on))
    print(f"<!-- {platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" {args.requests} requests x {args.rounds} rounds; {_Receiver.spans} spans received"
          " -->")  # fmt: skip
    print("| engine | off: round medians (ms) | on: round medians (ms) | off | on | on − off |")
    print("|---|---|---|---:|---:|---:|")
    for engine, medians, off, on in rows:
        per = {m: ", ".join(f"{v:.2f}" for v in medians[m]) for m in medians}
        print(f"| {engine} | {per['off']} | {per['on']} | {off:.2f} | {on:.2f} | {on - off:+.2f} |")


if __name__ == "__main__":
    main()
