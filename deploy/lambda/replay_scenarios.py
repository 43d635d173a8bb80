"""Replay the seed's six router scenarios through the Lambda handler, locally, and time them.

    ROUTER_BUNDLE_DIR=out/router/router PYTHONPATH=src:deploy/lambda \
        python deploy/lambda/replay_scenarios.py --rounds 200

Run it in a fresh process: the first call is the container's cold call (imports the model
runtime, verifies and loads the bundle); the rest are warm, reported as p50/p95/max. Each call
goes through ``lambda_handler`` with an API Gateway proxy event; the wall time is measured
around it, next to the ``inference_time_ms`` the handler reports. ``--json`` prints the whole
record (answers and timings) for tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handler

TIMESTAMP = "2026-11-30T14:00:00Z"
SCENARIOS: dict[str, dict[str, Any]] = {
    "lightweight API, small payload": {
        "workload_type": "lightweight_api", "payload_size_kb": 1,
        "time_window": "business_hours", "load_pattern": "medium",
    },
    "lightweight API, large payload": {
        "workload_type": "lightweight_api", "payload_size_kb": 5_000,
        "time_window": "business_hours", "load_pattern": "high",
    },
    "thumbnail, medium load": {
        "workload_type": "thumbnail_generation", "payload_size_kb": 200,
        "time_window": "business_hours", "load_pattern": "medium",
    },
    "thumbnail, early morning": {
        "workload_type": "thumbnail_generation", "payload_size_kb": 200,
        "time_window": "early_morning", "load_pattern": "low",
    },
    "heavy processing": {
        "workload_type": "heavy_processing", "payload_size_kb": 2_000,
        "time_window": "evening", "load_pattern": "bursty",
    },
    "medium processing, large payload": {
        "workload_type": "medium_processing", "payload_size_kb": 20_000,
        "time_window": "business_hours", "load_pattern": "medium",
    },
}  # fmt: skip


def event(request: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event carrying ``request`` as its JSON body."""
    return {
        "httpMethod": "POST",
        "path": "/predict",
        "headers": {"Content-Type": "application/json"},
        "requestContext": {"requestId": "local-replay"},
        "body": json.dumps({**request, "timestamp": TIMESTAMP}),
        "isBase64Encoded": False,
    }


def replay(rounds: int) -> dict[str, Any]:
    """``rounds`` passes over the scenarios; every call's answer, wall and reported time."""
    calls = []
    for _ in range(rounds):
        for name, request in SCENARIOS.items():
            start = time.perf_counter()
            response = handler.lambda_handler(event(request), None)
            wall_ms = (time.perf_counter() - start) * 1000.0
            body = json.loads(response["body"])
            reported = body.get("metrics", {}).get("inference_time_ms")
            calls.append({
                "scenario": name, "status": response["statusCode"], "wall_ms": wall_ms,
                "reported_ms": reported, "body": body,
            })  # fmt: skip
    return {"calls": calls, "stats": stats([c["wall_ms"] for c in calls])}


def stats(wall_ms: list[float]) -> dict[str, Any]:
    """Cold (the first call) and warm (the rest: p50, p95, max) latency, milliseconds."""
    warm = sorted(wall_ms[1:])
    out: dict[str, Any] = {"calls": len(wall_ms), "cold_ms": wall_ms[0], "warm_calls": len(warm)}
    if warm:
        cuts = statistics.quantiles(warm, n=100, method="inclusive") if len(warm) > 1 else warm
        out.update(
            warm_p50_ms=statistics.median(warm),
            warm_p95_ms=cuts[94] if len(warm) > 1 else warm[0],
            warm_max_ms=warm[-1],
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay the seed's six router scenarios.")
    parser.add_argument("--rounds", type=int, default=100, help="passes over the six")
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    record = replay(args.rounds)
    if args.json:
        print(json.dumps(record))
        return 0
    for call in record["calls"][: len(SCENARIOS)]:
        p = call["body"].get("prediction", {})
        flag = " (fallback)" if call["body"].get("fallback") else ""
        print(f"{call['scenario']:34} {call['status']} {p.get('platform')}{flag}"
              f"  P(container)={p.get('container_probability')}")  # fmt: skip
    s = record["stats"]
    print(f"calls {s['calls']}: cold {s['cold_ms']:.1f} ms; warm ({s['warm_calls']}) "
          f"p50 {s.get('warm_p50_ms', 0):.3f} ms, p95 {s.get('warm_p95_ms', 0):.3f} ms, "
          f"max {s.get('warm_max_ms', 0):.3f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
