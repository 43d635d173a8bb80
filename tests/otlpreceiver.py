"""A tiny OTLP/HTTP traces receiver (what a collector does with POST /v1/traces), for tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    """What the receiver decoded, in arrival order."""

    url: str
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)

    def spans(self) -> list[tuple[str, Span]]:
        """(service.name, span) of every span received."""
        found = []
        for message in list(self.requests):
            for resource_spans in message.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    service = resource.get("service.name", "")
                    found.extend((service, span) for span in scope_spans.spans)
        return found


def _handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            protobuf = self.headers["Content-Type"] == "application/x-protobuf"
            if self.path != "/v1/traces" or not protobuf:
                self.send_response(404)
            else:
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                received.requests.append(message)
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[Received]:
    """A receiver on 127.0.0.1 (a free port); ``url`` is the base OTEL_EXPORTER_OTLP_ENDPOINT."""
    server = HTTPServer(("127.0.0.1", 0), _handler(Received("")))
    received = Received(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(received)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
