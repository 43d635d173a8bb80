"""The FastAPI app factory: ``create_app()`` is what uvicorn runs (``skyroute serve``).

One app per process; several worker processes share state only through the database.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from skyroute import __version__
from skyroute.serve import errors
from skyroute.serve.admission import Admission, install_pool_timeout
from skyroute.serve.dashboard import install_dashboard
from skyroute.serve.db import make_engine, migrate, session_factory
from skyroute.serve.docs_ui import install_docs
from skyroute.serve.drift_monitor import DriftMonitor
from skyroute.serve.engines.contract import EngineMeta
from skyroute.serve.engines.registry import active_engines
from skyroute.serve.gate import AuthGate
from skyroute.serve.keys import TenantKeys
from skyroute.serve.limits import BodyLimits
from skyroute.serve.live.streams import LiveStreams
from skyroute.serve.metrics import Metrics, RequestTimer
from skyroute.serve.settings import Settings
from skyroute.serve.state import AppState, WorldBuild
from skyroute.serve.tracing import Tracing, tracing_for
from skyroute.serve.writer import GroupCommitWriter

#: How long the event loop may hold the GIL while another thread waits for it. The writer
#: thread (PostgreSQL) and the threadpool need it back after every database call; at Python's
#: default 5 ms a busy loop made each of those calls wait that long (p99 at 500/s on
#: PostgreSQL 17 -> 8 ms, capacity 908 -> 1,077/s). Process-wide, set when the server starts.
GIL_SWITCH_INTERVAL_S = 0.0005


def _inspect_with(settings: Settings) -> Callable[[str], EngineMeta]:
    """Inspect operator engines in a one-off sandboxed worker (only when there are any)."""

    def inspect(source: str) -> EngineMeta:
        from skyroute.serve.engines.sandbox import EngineSandbox, Limits

        limits = Limits(
            wall_seconds=settings.engine_timeout_s,
            import_seconds=settings.engine_import_timeout_s,
        )
        sandbox = EngineSandbox(limits)
        try:
            return sandbox.inspect("operator", source)
        finally:
            sandbox.close()

    return inspect


UPLOAD_PATHS = ("/api/v1/ml/models/upload", "/api/v1/ml/engines/upload")


def create_app(
    settings: Settings | None = None,
    *,
    run_migrations: bool = True,
    tracing: Tracing | None = None,
) -> FastAPI:
    """A ready-to-serve app; the schema is migrated to head unless told otherwise.

    ``tracing`` defaults to what the settings say (OTLP when an endpoint is set, else off);
    tests pass one that keeps the spans in memory.
    """
    from skyroute.serve.routes import (
        actuals,
        actuals_series,
        admin,
        autoscale,
        decide,
        drift,
        engines,
        gapfill,
        health,
        live,
        models,
        predictions,
        recent,
        route,
        spot,
    )

    settings = settings or Settings.from_env()
    tracing = tracing or tracing_for(settings)
    # Connections for every request admission control lets in, the writer and background work.
    db = make_engine(
        settings.db_url,
        pool_size=settings.max_in_flight + 4,
        pool_timeout_s=settings.db_pool_timeout_s,
    )
    if run_migrations:
        migrate(db)
    tracing.instrument_storage(db)  # after the migrations: their statements are not traced
    offered = active_engines(settings, _inspect_with(settings))
    sessions = session_factory(db)
    metrics = Metrics.create()
    metrics.recommended_replicas.bind(sessions)
    state = AppState(
        engines=offered,
        settings=settings,
        db=db,
        sessions=sessions,
        world_build=WorldBuild(),
        metrics=metrics,
        keys=TenantKeys(sessions, ttl=settings.key_cache_seconds),
        tracing=tracing,
    )
    # SQLite commits are local file appends: done on the loop, they never wait for the GIL.
    state.writer = GroupCommitWriter(db, inline=db.dialect.name == "sqlite", tracing=tracing)
    state.live = LiveStreams.create(settings, state.metrics)
    monitor = state.drift = DriftMonitor(sessions, settings, state.metrics, state.live)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if settings.gap_filler_enabled:
            state.start_gap_filler()
            if settings.gap_filler_run_on_startup:
                from skyroute.serve.gapfill_registry import fill_on_startup

                fill_on_startup(state)
        if settings.central_platform_url:
            state.start_outbox_sender()
        if state.live is not None:
            await state.live.start()
        if settings.live_prediction_interval_s > 0:
            state.start_live_scheduler()  # after the streams: its predictions are published
        monitor.start()
        yield
        if state.live is not None:
            await state.live.close()
        state.close()

    app = FastAPI(
        title="SkyRoute decision server",
        version=__version__,
        description="Inference-only placement decisions: models, engines, A/B, tenants.",
        lifespan=lifespan,
        telemetry=tracing.fastapi_telemetry(),  # HTTP spans from this process's provider only
        docs_url=None,  # served from the package by install_docs (no CDN)
        redoc_url=None,
    )
    app.state.skyroute = state
    errors.install(app)
    # The hot routes first: FastAPI tries routes in order (paths here never overlap).
    routers = (
        decide, health, admin, models, engines, route, gapfill, spot, actuals, actuals_series,
        drift, live, predictions, recent, autoscale,
    )  # fmt: skip
    for router in (module.router for module in routers):
        app.include_router(router)
    install_docs(app)
    install_dashboard(app)

    install_pool_timeout(app, settings.retry_after_s)
    # The middleware added last runs first: timing, credentials, admission control, then body
    # limits. A request without a key, past the size limit or beyond the in-flight bounds is
    # refused before its body is read; admission control sits inside the authentication gate
    # so that it sees the caller's tenant.
    app.add_middleware(
        BodyLimits,
        upload_bytes=settings.max_upload_mb << 20,
        request_bytes=settings.max_request_kb << 10,
        upload_paths=UPLOAD_PATHS,
    )
    app.add_middleware(
        Admission,
        max_in_flight=settings.max_in_flight,
        max_per_tenant=settings.max_in_flight_per_tenant,
        retry_after_s=settings.retry_after_s,
        on_refuse=lambda reason: state.metrics.refused.labels(reason).inc(),
    )
    app.add_middleware(AuthGate, keys=state.keys, admin_token=settings.admin_token)
    app.add_middleware(RequestTimer, metrics=state.metrics)  # outermost: refusals count too

    return app


def check_engines(settings: Settings) -> None:
    """Refuse to start (ConfigError) when the engine settings name no usable engine."""
    active_engines(settings, _inspect_with(settings))


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory`` workers (migrations ran in the parent)."""
    import os

    return create_app(run_migrations=os.environ.get("SKYROUTE_MIGRATED") != "1")
