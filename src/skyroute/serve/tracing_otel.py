"""OpenTelemetry behind :class:`skyroute.serve.tracing.Tracing`; imported only when tracing is on.

One tracer provider per server process, given explicitly to FastAPI's native telemetry (the HTTP
spans), to SQLAlchemy's instrumentation (one span per statement) and to the server's own spans;
the process-wide global provider is left alone, so two apps in one process (tests) never mix.
Spans leave through a BatchSpanProcessor: exporting runs in its thread, off the request path,
and an unreachable collector costs a request nothing. The exporter gives up after the export
timeout, and shutdown waits at most that long (plus a second) before the process moves on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from skyroute import __version__
from skyroute.serve.tracing import Attributes, SpanLike, Tracing

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from sqlalchemy import Engine

    from skyroute.serve.settings import Settings

log = logging.getLogger(__name__)

#: Probes and scrapes: frequent, fast and of no interest in a trace.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
TRACER_NAME = "skyroute.serve"
#: The instrumentation scope of SQLAlchemy's statement spans.
SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


class StatementsInContext(SpanProcessor):
    """Passes spans on to ``inner``, except SQL statements that belong to no request or commit.

    Background work (drift checks, the gap filler, the outbox sender) runs statements outside
    any span; exported, each would be a trace of one span, burying the requests' traces.
    """

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        if span.parent is None and scope is not None and scope.name == SQL_SCOPE:
            return
        self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def provider_with(service_name: str, processor: SpanProcessor) -> TracerProvider:
    """A tracer provider naming the service; the sampler is the SDK's reading of
    ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (default: parent-based, always on)."""
    resource = Resource.create({SERVICE_NAME: service_name, SERVICE_VERSION: __version__})
    # shutdown_on_exit=False: the app's lifespan shuts it down within the export timeout; the
    # SDK's atexit hook would wait up to 30 s for an unreachable collector.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(StatementsInContext(processor))
    return provider


class OtelTracing(Tracing):
    """Spans recorded by ``provider`` (its processors decide where they go)."""

    enabled = True

    def __init__(self, provider: TracerProvider, *, shutdown_timeout_s: float = 3.0) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(TRACER_NAME, __version__)
        self._shutdown_timeout_s = shutdown_timeout_s

    def span(
        self,
        name: str,
        attributes: Attributes | None = None,
        *,
        links: Sequence[Any] = (),
        root: bool = False,
    ) -> AbstractContextManager[SpanLike]:
        return self._tracer.start_as_current_span(
            name,
            context=otel_context.Context() if root else None,
            attributes=dict(attributes) if attributes else None,
            links=[trace.Link(target) for target in links if target is not None],
        )

    def link(self) -> Any:
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    def fastapi_telemetry(self) -> TelemetryConfig:
        """HTTP and FastAPI operation spans from this provider; FastAPI's metrics and logs stay
        off (Prometheus has the metrics; its logs would carry exception messages)."""
        return {
            "tracer_provider": self.provider,
            "tracing": True,
            "operation_spans": True,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
            "exclude": _untraced,
        }

    def instrument_storage(self, engine: Engine) -> None:
        """One span per SQL statement of ``engine`` (the statement text, never its parameters).

        ``EngineTracer`` directly rather than ``SQLAlchemyInstrumentor().instrument``: the
        instrumentor is a process-wide singleton that also patches ``create_engine``.
        """
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__ as version
        from opentelemetry.metrics import NoOpMeter

        tracer = self.provider.get_tracer(SQL_SCOPE, version)
        usage = NoOpMeter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
        EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]

    def force_flush(self) -> bool:
        return self.provider.force_flush(int(self._shutdown_timeout_s * 1000))

    def shutdown(self) -> None:
        """Flush and stop in a helper thread, waited for at most the shutdown timeout."""
        stopper = threading.Thread(
            target=self.provider.shutdown, name="skyroute-trace-shutdown", daemon=True
        )
        stopper.start()
        stopper.join(self._shutdown_timeout_s)
        if stopper.is_alive():
            log.warning(
                "trace export did not finish within %.1f s; the remaining spans are dropped",
                self._shutdown_timeout_s,
            )


def otlp_tracing(settings: Settings) -> OtelTracing:
    """Spans batched and sent over OTLP/HTTP (protobuf) to ``settings.traces_url``.

    Headers, compression and TLS files come from the SDK's own ``OTEL_EXPORTER_OTLP_*``
    variables.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    timeout_s = settings.trace_export_timeout_s
    exporter = OTLPSpanExporter(endpoint=settings.traces_url, timeout=timeout_s)
    processor = BatchSpanProcessor(exporter, export_timeout_millis=timeout_s * 1000)
    provider = provider_with(settings.otel_service_name, processor)
    return OtelTracing(provider, shutdown_timeout_s=timeout_s + 1.0)
