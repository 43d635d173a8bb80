"""Prometheus metrics with low-cardinality labels (route templates, never raw paths or ids).

Label values come only from fixed sets: route templates, HTTP methods (others count as
"other"), status codes, built-in engine names or "uploaded". With several server workers
(``ML_SERVER_WORKERS`` > 1) ``skyroute serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh
directory before the workers start; each worker then writes its counts there and ``/metrics``,
whichever worker answers, reports the sum of all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyroute.serve.recommendation_gauge import RecommendationGauge

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass
class Metrics:
    registry: CollectorRegistry
    request_seconds: Histogram
    decisions: Counter
    model_load_failures: Counter
    engine_fallbacks: Counter
    gapfill_chunks: Counter
    gapfill_rows: Counter
    spot_predictions: Counter
    refused: Counter
    outbox: Counter
    live_dropped: Counter
    live_publish_errors: Counter
    live_predictions: Counter
    drift_alerts: Counter
    expected_cost: Counter
    expected_carbon: Counter
    actuals: Counter
    realised_cost: Counter
    realised_carbon: Counter
    #: Read from the database at each scrape, in every mode (serve/recommendation_gauge.py).
    recommended_replicas: RecommendationGauge

    @classmethod
    def create(cls) -> Metrics:
        """A private registry per app, so several apps (tests, workers) never share counters."""
        registry = CollectorRegistry()
        recommended = RecommendationGauge()
        registry.register(recommended)
        return cls(
            registry=registry,
            recommended_replicas=recommended,
            request_seconds=Histogram(
                "skyroute_http_request_seconds",
                "HTTP request latency by route template",
                ["method", "route", "status"],
                registry=registry,
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ),
            decisions=Counter(
                "skyroute_decisions_total",
                "Placement decisions by engine and chosen provider and region",
                ["engine", "provider", "region"],
                registry=registry,
            ),
            model_load_failures=Counter(
                "skyroute_model_load_failures_total",
                "Bundles that failed to load for inference",
                ["kind"],
                registry=registry,
            ),
            engine_fallbacks=Counter(
                "skyroute_engine_fallbacks_total",
                "Decisions that fell back to greedy, by engine and reason class",
                ["engine", "reason"],
                registry=registry,
            ),
            gapfill_chunks=Counter(
                "skyroute_gapfill_chunks_total",
                "Gap-fill chunks this process finished, by outcome",
                ["status"],
                registry=registry,
            ),
            gapfill_rows=Counter(
                "skyroute_gapfill_rows_total",
                "New market data rows written by this process's gap filler, by source",
                ["source"],
                registry=registry,
            ),
            spot_predictions=Counter(
                "skyroute_spot_predictions_total",
                "Spot interruption predictions, by method (model or advisor bucket)",
                ["method"],
                registry=registry,
            ),
            refused=Counter(
                "skyroute_requests_refused_total",
                "Requests refused at once by admission control (overloaded, rate_limited)",
                ["reason"],
                registry=registry,
            ),
            outbox=Counter(
                "skyroute_outbox_events_total",
                "Events sent to the central platform, by outcome (delivered, failed attempt)",
                ["outcome"],
                registry=registry,
            ),
            live_dropped=Counter(
                "skyroute_live_subscribers_dropped_total",
                "Stream subscribers dropped because their queue was full (closed with 1013)",
                registry=registry,
            ),
            live_publish_errors=Counter(
                "skyroute_live_publish_errors_total",
                "Stream events not published to Redis (down, slow or a full outbox)",
                registry=registry,
            ),
            live_predictions=Counter(
                "skyroute_live_predictions_total",
                "Live predictions stored, and live series whose prediction failed, by outcome",
                ["outcome"],
                registry=registry,
            ),
            drift_alerts=Counter(
                "skyroute_drift_alerts_total",
                "Drift alerts stored, by kind (input: against the training reference; error)",
                ["kind"],
                registry=registry,
            ),
            expected_cost=Counter(
                "skyroute_decision_expected_cost_usd_total",
                "Expected cost of the decided placements, by engine, provider and region",
                ["engine", "provider", "region"],
                registry=registry,
            ),
            expected_carbon=Counter(
                "skyroute_decision_expected_carbon_grams_total",
                "Expected carbon (gCO2e) of the decided placements",
                ["engine", "provider", "region"],
                registry=registry,
            ),
            actuals=Counter(
                "skyroute_actuals_total",
                "Decisions whose actuals were posted, by the placement's provider and region",
                ["provider", "region"],
                registry=registry,
            ),
            realised_cost=Counter(
                "skyroute_realised_cost_usd_total",
                "Realised cost posted as actuals, by the placement's provider and region",
                ["provider", "region"],
                registry=registry,
            ),
            realised_carbon=Counter(
                "skyroute_realised_carbon_grams_total",
                "Realised carbon (gCO2e) posted as actuals, when measured",
                ["provider", "region"],
                registry=registry,
            ),
        )

    def render(self) -> tuple[bytes, str]:
        """(body, content type) for ``/metrics``: every worker's counts in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.recommended_replicas)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def multiprocess_dir(workers: int) -> Path | None:
    """Set up ``PROMETHEUS_MULTIPROC_DIR`` before the workers start.

    An operator's own directory is made if missing (the image's, on a fresh tmpfs) and emptied
    (counts of an earlier run must not add up), whatever the number of workers; without one, a
    run with several workers gets a fresh temporary directory, which the caller removes when
    the server stops. Returns the directory the caller should remove, or None.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:  # even for one worker: prometheus_client writes there whenever it is set
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    if workers <= 1:
        return None
    made = Path(tempfile.mkdtemp(prefix="skyroute-metrics-"))
    os.environ[MULTIPROC_ENV] = str(made)
    return made


class RequestTimer:
    """Pure ASGI middleware: request latency by method, route template and status.

    (Starlette's ``BaseHTTPMiddleware`` costs a task and a memory stream per request, about as
    much as a whole decision; this costs a clock read and one histogram observation.)
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.histogram = metrics.request_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(method, route, str(status)).observe(time.perf_counter() - start)
