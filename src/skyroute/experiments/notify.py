"""Telling people and monitoring that a sweep ended: a Slack-compatible webhook and a Pushgateway.

Both are optional exports of a finished sweep, so neither ever fails it: a webhook or gateway
that is down, slow or refuses is logged as a warning and the call returns False. Pushgateway
metrics keep labels low-cardinality: the metric name is the sanitised metric
(``skyroute_sweep_class_1_accuracy``), the labels are only sweep, phase and run.
"""

from __future__ import annotations

import logging
import math
import re

from skyroute.experiments.outcomes import SweepOutcome

log = logging.getLogger(__name__)

PUSH_JOB = "skyroute_sweep"
METRIC_PREFIX = "skyroute_sweep_"
#: Each finished run's wall time, pushed beside its metrics (the "over time" alert reads it).
RUN_SECONDS = METRIC_PREFIX + "run_seconds"
TIMEOUT_S = 10.0
#: At most this many failed runs are named in a message (the report lists them all).
MAX_FAILED_LISTED = 5


def summary(outcome: SweepOutcome) -> str:
    """The message: sweep, champion and its metrics, each phase's winner, failed runs."""
    runs = [run for phase in outcome.phases for run in phase.runs]
    failed = [run for run in runs if run.status == "failed"]
    lines = [
        f"Sweep *{outcome.sweep}* ({outcome.trainer}, {outcome.scale}) finished: "
        f"{len(runs)} runs, {len(failed)} failed, {outcome.executed} executed now."
    ]
    champion = outcome.champion
    if champion is None:
        last = outcome.phases[-1] if outcome.phases else None
        why = (last.problem if last else None) or "no run met the last phase's rule"
        lines.append(f"No champion: {why}")
    else:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(champion.metrics.items()))
        lines.append(f"Champion: `{champion.name}` (phase {champion.phase}): {metrics}")
    for phase in outcome.phases:
        chosen = f"`{phase.winner.name}`" if phase.winner else "no winner"
        lines.append(f"- {phase.name} ({phase.rule}): {chosen}")
    for run in failed[:MAX_FAILED_LISTED]:
        lines.append(f"Failed: `{run.name}` ({run.phase}): {run.reason or 'no reason recorded'}")
    if len(failed) > MAX_FAILED_LISTED:
        lines.append(f"... and {len(failed) - MAX_FAILED_LISTED} more failed runs (see the report)")
    return "\n".join(lines)


def post_webhook(url: str, outcome: SweepOutcome, *, timeout: float = TIMEOUT_S) -> bool:
    """POST ``{"text": summary}`` to ``url`` (Slack's incoming-webhook shape); False + a warning
    when it cannot be delivered, never an exception."""
    import httpx

    try:
        response = httpx.post(url, json={"text": summary(outcome)}, timeout=timeout)
    except httpx.HTTPError as exc:
        log.warning("sweep webhook %s not delivered: %s: %s", url, type(exc).__name__, exc)
        return False
    if response.is_error:
        log.warning(
            "sweep webhook %s not delivered: %s %s", url, response.status_code, response.text[:200]
        )
        return False
    return True


def metric_name(metric: str) -> str:
    """A Prometheus-safe name: ``class-1 accuracy`` -> ``skyroute_sweep_class_1_accuracy``."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", metric.lower()).strip("_") or "metric"
    return METRIC_PREFIX + cleaned


def push_metrics(gateway_url: str, outcome: SweepOutcome, *, timeout: float = TIMEOUT_S) -> bool:
    """Push every finished run's final metrics to the Pushgateway at ``gateway_url``.

    One gauge per metric (and ``skyroute_sweep_run_seconds``, the run's wall time), labelled
    sweep, phase and run, under job ``skyroute_sweep`` grouped by
    sweep (a new push of the same sweep replaces its old values, other sweeps stay). Returns
    False with a warning when the gateway cannot be reached or refuses.
    """
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    gauges: dict[str, Gauge] = {}
    for phase in outcome.phases:
        for run in phase.runs:
            if run.status != "finished":
                continue
            for metric, value in sorted(run.metrics.items()):
                if not math.isfinite(value):
                    continue
                name = metric_name(metric)
                if name not in gauges:
                    gauges[name] = Gauge(
                        name, f"final {metric} of a sweep run", ["sweep", "phase", "run"],
                        registry=registry,
                    )  # fmt: skip
                gauges[name].labels(outcome.sweep, phase.name, run.name).set(value)
            if run.seconds is not None and math.isfinite(run.seconds):
                if RUN_SECONDS not in gauges:
                    gauges[RUN_SECONDS] = Gauge(
                        RUN_SECONDS, "wall time of a sweep run in seconds",
                        ["sweep", "phase", "run"], registry=registry,
                    )  # fmt: skip
                gauges[RUN_SECONDS].labels(outcome.sweep, phase.name, run.name).set(run.seconds)
    try:
        push_to_gateway(
            gateway_url, job=PUSH_JOB, registry=registry, grouping_key={"sweep": outcome.sweep},
            timeout=timeout,
        )  # fmt: skip
    except OSError as exc:  # URLError and HTTPError are OSErrors
        log.warning("sweep metrics not pushed to %s: %s", gateway_url, exc)
        return False
    return True
