"""Tracing of the server: the spans the code opens, and nothing at all when it is off.

Why a module of its own: the decide pipeline, the engines and the writer open spans through one
small object (:class:`Tracing`), held by the app state, so that none of them imports
OpenTelemetry. Off (no ``OTEL_EXPORTER_OTLP_ENDPOINT``) every span is a shared no-op and not one
OpenTelemetry module is imported for it; on, :func:`tracing_for` builds the SDK-backed tracing of
:mod:`skyroute.serve.tracing_otel` (imported only then). Each server process (uvicorn worker)
builds its own in ``create_app``: the exporter's background thread does not survive a fork.

Span attributes never hold secrets: API keys, the ``Authorization`` header and request bodies
stay out (tests/api/test_tracing.py checks every attribute of a traced request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from sqlalchemy import Engine

    from skyroute.serve.settings import Settings

#: What a span attribute may hold (OpenTelemetry's scalar attribute values).
Attribute = str | bool | int | float
Attributes = Mapping[str, Attribute]


class SpanLike(Protocol):
    """The part of a span the server uses: attributes known only once the work is done."""

    def set_attribute(self, key: str, value: Attribute) -> None: ...


class _NoSpan:
    def set_attribute(self, key: str, value: Attribute) -> None:
        return None


NO_SPAN = _NoSpan()


class Tracing:
    """Tracing switched off: every call is a no-op (the default of every app)."""

    enabled = False

    def span(
        self,
        name: str,
        attributes: Attributes | None = None,
        *,
        links: Sequence[Any] = (),
        root: bool = False,
    ) -> AbstractContextManager[SpanLike]:
        """A span around the ``with`` block, child of the current one unless ``root``.

        ``links`` are :meth:`link` values of other traces (a group commit serves many requests).
        """
        return nullcontext(NO_SPAN)

    def link(self) -> Any:
        """The current span as a link target for :meth:`span` (None when there is none)."""
        return None

    def fastapi_telemetry(self) -> TelemetryConfig:
        """FastAPI's native telemetry settings: all off, even with a global provider set."""
        return {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

    def instrument_storage(self, engine: Engine) -> None:
        """Trace the SQL statements of ``engine`` (nothing to do when off)."""

    def force_flush(self) -> bool:
        """Export what has ended so far (tests, benchmarks); True when nothing is left."""
        return True

    def shutdown(self) -> None:
        """Export what is left and stop, within the export timeout (server shutdown)."""


NO_TRACING = Tracing()


def tracing_for(settings: Settings) -> Tracing:
    """The tracing a server process runs with: OTLP when an endpoint is configured, else off."""
    if settings.traces_url is None:
        return NO_TRACING
    from skyroute.serve.tracing_otel import otlp_tracing

    return otlp_tracing(settings)
