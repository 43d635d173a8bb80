"""Prometheus metrics with low-cardinality labels (route templates, never raw paths or ids)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


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

    @classmethod
    def create(cls) -> Metrics:
        """A private registry per app, so several apps (tests, workers) never share counters."""
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            request_seconds=Histogram(
                "skyroute_http_request_seconds",
                "HTTP request latency by route template",
                ["method", "route", "status"],
                registry=registry,
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ),
            decisions=Counter(
                "skyroute_decisions_total",
                "Placement decisions by engine and chosen provider",
                ["engine", "provider"],
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
        )
