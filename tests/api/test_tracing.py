"""OpenTelemetry tracing of the server: the span tree of a decision, the OTLP wire, off by default.

The in-memory tests give the app an SDK provider whose spans stay in this process; the wire
tests let the app build its own OTLP/HTTP exporter from the settings and decode what a tiny
local receiver got, as a collector would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from apiclient import ADMIN_TOKEN, TenantClient, decide_body, make_tenant, upload_and_activate
from bundlemaker import memory_router_bundle, mlp_bundle
from otlpreceiver import Received, otlp_receiver
from skyroute.bundles import pack_bundle
from skyroute.bundles.router_request import FEATURES
from skyroute.errors import ConfigError
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
from skyroute.serve.tracing_otel import OtelTracing, provider_with

SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
DECIDE = "/api/v1/ml/decide"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(settings: Settings, spans: InMemorySpanExporter) -> Iterator[TestClient]:
    tracing = OtelTracing(provider_with("skyroute-test", SimpleSpanProcessor(spans)))
    with TestClient(create_app(settings, tracing=tracing)) as client:
        client.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        yield client


def _upload(tenant: TenantClient, folder: Path, model_id: str) -> None:
    upload_and_activate(tenant, pack_bundle(folder, folder.with_suffix(".zip")), model_id)


def _hierarchy(tenant: TenantClient, tmp_path: Path) -> None:
    """Tiny forecast, strategic and tactical bundles, active, and the hierarchical engine."""
    _upload(tenant, mlp_bundle(tmp_path / "f", kind="forecast.load", n_in=12, n_out=12), "fc")
    _upload(tenant, mlp_bundle(tmp_path / "s", n_in=50), "strat")
    _upload(tenant, mlp_bundle(tmp_path / "t", kind="placement.tactical", n_in=115, n_out=8), "tac")
    selected: Any = tenant.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"})
    assert selected.status_code == 200, selected.text


def _by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans if span.context is not None}


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """Names from the parent up to the root (within the recorded spans)."""
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def _one(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, [span.name for span in spans])
    return found[0]


def _decide(tenant: TenantClient, spans: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    spans.clear()
    response: Any = tenant.post(DECIDE, json=decide_body())
    assert response.status_code == 200, response.text
    return spans.get_finished_spans()


def test_a_hierarchical_decision_is_one_trace_from_request_to_layers_to_sql(
    traced: TestClient, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    tenant = make_tenant(traced, "alpha")
    _hierarchy(tenant, tmp_path)
    recorded = _decide(tenant, spans)
    request = next(s for s in recorded if s.kind == SpanKind.SERVER)
    assert request.name == f"POST {DECIDE}"
    assert request.context is not None
    trace_id = request.context.trace_id
    mine = tuple(s for s in recorded if s.context is not None and s.context.trace_id == trace_id)
    by_id = _by_id(mine)

    engine = _one(mine, "engine.decide")
    assert request.name in _ancestors(engine, by_id)
    assert engine.attributes is not None
    assert engine.attributes["skyroute.engine"] == "hierarchical"
    assert engine.attributes["skyroute.tenant"] == tenant.tenant_id
    assert engine.attributes["skyroute.batch.size"] == 1
    assert engine.attributes["skyroute.fallback"] is False
    for kind in ("forecast.load", "placement.strategic", "placement.tactical"):
        layers = [s for s in mine if s.name == f"predict {kind}"]
        assert layers, f"no span for the {kind} layer"
        for layer in layers:
            assert _ancestors(layer, by_id)[0] == "engine.decide"
            assert layer.attributes is not None
            assert layer.attributes["skyroute.model.kind"] == kind
    # The engine's reads (active models, A/B splits, the forecast's history) are SQL spans
    # beneath it, with the statement but never its parameters.
    sql = [s for s in mine if s.instrumentation_scope and s.instrumentation_scope.name == SQL_SCOPE]
    under_engine = [s for s in sql if "engine.decide" in _ancestors(s, by_id)]
    assert under_engine, [s.name for s in sql]
    assert all("SELECT" in str((s.attributes or {}).get("db.statement", "")) for s in under_engine)
    commit = _one(mine, "storage.commit")
    assert request.name in _ancestors(commit, by_id)


def test_a_sandboxed_engine_is_one_span_around_the_round_trip_of_a_batch(
    traced: TestClient, spans: InMemorySpanExporter
) -> None:
    tenant = make_tenant(traced, "alpha")
    selected: Any = tenant.post("/api/v1/ml/engines/select", json={"engine_id": "rules"})
    assert selected.status_code == 200, selected.text
    spans.clear()
    batch = {"requests": [decide_body(id=f"fn-{i}") for i in range(3)]}
    response: Any = tenant.post(f"{DECIDE}/batch", json=batch)
    assert response.status_code == 200, response.text
    recorded = spans.get_finished_spans()
    by_id = _by_id(recorded)
    engine = _one(recorded, "engine.decide")
    assert engine.attributes is not None
    assert engine.attributes["skyroute.engine"] == "rules"
    assert engine.attributes["skyroute.batch.size"] == 3
    call = _one(recorded, "engine.sandbox.call")
    assert _ancestors(call, by_id)[0] == "engine.decide"
    assert call.attributes is not None and call.attributes["skyroute.batch.size"] == 3
    # Nothing below engine.decide's children: the worker itself is not traced.
    assert not [s for s in recorded if "engine.decide" in _ancestors(s, by_id)[1:]]


def test_the_router_predict_is_a_span_of_the_route_request(
    traced: TestClient, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    tenant = make_tenant(traced, "alpha")
    _upload(tenant, memory_router_bundle(tmp_path / "router"), "router")
    spans.clear()
    features = dict.fromkeys(FEATURES, 0.5)
    response: Any = tenant.post("/api/v1/ml/route", json={"features": features})
    assert response.status_code == 200, response.text
    recorded = spans.get_finished_spans()
    predict = _one(recorded, "predict router.platform")
    assert "POST /api/v1/ml/route" in _ancestors(predict, _by_id(recorded))
    assert predict.attributes is not None
    assert predict.attributes["skyroute.model.version"] == "router@1"


def test_statements_outside_any_request_or_commit_are_not_exported(
    traced: TestClient, spans: InMemorySpanExporter
) -> None:
    state = traced.app.state.skyroute  # type: ignore[attr-defined]
    _decide(make_tenant(traced, "alpha"), spans)
    with state.sessions() as session:  # as a background job would, outside any span
        session.execute(text("SELECT 1"))
    recorded = spans.get_finished_spans()
    sql = [
        s for s in recorded if s.instrumentation_scope and s.instrumentation_scope.name == SQL_SCOPE
    ]
    assert sql
    assert all(s.parent is not None for s in sql)
    assert "SELECT 1" not in [str((s.attributes or {}).get("db.statement")) for s in sql]


def test_the_group_commit_is_its_own_trace_linked_to_the_request(
    traced: TestClient, spans: InMemorySpanExporter
) -> None:
    recorded = _decide(make_tenant(traced, "alpha"), spans)
    commit = _one(recorded, "storage.commit")
    group = _one(recorded, "storage.group_commit")
    assert group.parent is None and commit.context is not None and group.context is not None
    assert group.context.trace_id != commit.context.trace_id
    assert [link.context.span_id for link in group.links] == [commit.context.span_id]
    inserts = [
        s for s in recorded if s.parent is not None and s.parent.span_id == group.context.span_id
    ]
    statements = " ".join(str((s.attributes or {}).get("db.statement", "")) for s in inserts)
    assert "INSERT INTO decisions" in statements


def test_no_span_attribute_holds_a_key_the_admin_token_or_the_body(
    traced: TestClient, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    spans.clear()
    tenant = make_tenant(traced, "alpha")  # the admin token and the new key are in this trace
    _hierarchy(tenant, tmp_path)
    secret_function = "fn-do-not-trace-me"
    response: Any = tenant.post(DECIDE, json=decide_body(id=secret_function))
    assert response.status_code == 200, response.text
    refused = traced.post(DECIDE, json=decide_body(), headers={"Authorization": "Bearer nope-x9"})
    assert refused.status_code == 401
    recorded = spans.get_finished_spans()
    assert len(recorded) > 20
    for span in recorded:
        for key, value in (span.attributes or {}).items():
            text = f"{key}={value}".lower()
            assert "authorization" not in text, (span.name, key)
            for secret in (tenant.key, ADMIN_TOKEN, "nope-x9", secret_function):
                assert secret.lower() not in text, (span.name, key, value)


def test_a_tenants_trace_names_no_other_tenant(
    traced: TestClient, spans: InMemorySpanExporter
) -> None:
    alpha, beta = make_tenant(traced, "alpha"), make_tenant(traced, "beta")
    _decide(alpha, spans)
    recorded = _decide(beta, spans)
    request = next(s for s in recorded if s.kind == SpanKind.SERVER)
    assert request.context is not None
    mine = [s for s in recorded if s.context and s.context.trace_id == request.context.trace_id]
    engine = _one(tuple(mine), "engine.decide")
    assert engine.attributes is not None
    assert engine.attributes["skyroute.tenant"] == beta.tenant_id
    for span in mine:
        assert alpha.tenant_id not in " ".join(map(str, (span.attributes or {}).values()))


# --- The OTLP wire --------------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[Received]:
    with otlp_receiver() as received:
        yield received


def test_spans_reach_an_otlp_http_collector_with_the_service_name(
    settings: Settings, collector: Received
) -> None:
    configured = Settings.from_env(
        {
            "SKYROUTE_DATABASE_URL": settings.database_url,
            "SKYROUTE_DATA_DIR": str(settings.data_dir),
            "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "skyroute-wire-test",
        }
    )
    with TestClient(create_app(configured)) as client:
        state = client.app.state.skyroute  # type: ignore[attr-defined]
        assert state.tracing.enabled
        response: Any = make_tenant(client, "alpha").post(DECIDE, json=decide_body())
        assert response.status_code == 200, response.text
        assert state.tracing.force_flush()
    received = collector.spans()
    assert {service for service, _ in received} == {"skyroute-wire-test"}
    names = {span.name for _, span in received}
    assert {f"POST {DECIDE}", "engine.decide", "storage.commit", "storage.group_commit"} <= names


def test_requests_succeed_and_shutdown_ends_with_an_unreachable_collector(
    settings: Settings,
) -> None:
    with socket.socket() as probe:  # a port with nobody listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = settings.model_copy(
        update={"otel_endpoint": f"http://127.0.0.1:{port}", "trace_export_timeout_s": 0.5}
    )
    with TestClient(create_app(configured)) as client:
        assert client.app.state.skyroute.tracing.enabled  # type: ignore[attr-defined]
        tenant = make_tenant(client, "alpha")
        for _ in range(3):
            response: Any = tenant.post(DECIDE, json=decide_body())
            assert response.status_code == 200, response.text
    # Leaving the block ran the shutdown: it returned (bounded by the export timeout).


# --- Off ------------------------------------------------------------------------------------

_OFF = """
import sys
from opentelemetry import trace
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
app = create_app(Settings.from_env({"SKYROUTE_DATA_DIR": sys.argv[1]}))
sdk = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
             "opentelemetry.instrumentation")))
provider = type(trace.get_tracer_provider()).__name__
print(app.state.skyroute.tracing.enabled, provider, sdk)
"""


def test_without_an_endpoint_no_provider_exporter_or_sdk_is_loaded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _OFF, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "ProxyTracerProvider", "[]"]


def test_tracing_settings_are_read_as_the_sdk_reads_them() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    assert Settings.from_env({}).traces_url is None
    assert Settings.from_env(base).traces_url == "http://collector:4318/v1/traces"
    full = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/x"}
    assert Settings.from_env(full).traces_url == "https://traces.example/x"
    assert Settings.from_env({**base, "OTEL_SDK_DISABLED": "true"}).traces_url is None
    assert Settings.from_env(base).otel_service_name == "skyroute-server"
    with pytest.raises(ConfigError, match="PROTOCOL='grpc' is not one of 'http/protobuf'"):
        Settings.from_env({**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    with pytest.raises(ConfigError, match="not an http:// or https:// URL") as refused:
        Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in refused.value.fix
