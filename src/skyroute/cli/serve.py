"""`skyroute serve`: run the decision server (uvicorn, settings from the environment)."""

from __future__ import annotations

import os
import shutil

import typer

from skyroute.cli._common import console, handle_errors

#: Seconds uvicorn waits for in-flight requests on shutdown before closing connections.
DRAIN_SECONDS = 30


@handle_errors
def serve(
    host: str | None = typer.Option(None, "--host", help="Bind address (ML_SERVER_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port (ML_SERVER_PORT)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (ML_SERVER_WORKERS)."),
) -> None:
    """Serve placement decisions over HTTP; see docs/serve.md for the settings."""
    import uvicorn

    from skyroute.serve.app import check_engines
    from skyroute.serve.db import make_engine, migrate
    from skyroute.serve.metrics import multiprocess_dir
    from skyroute.serve.settings import Settings

    settings = Settings.from_env()
    check_engines(settings)  # DECISION_ENGINE_ACTIVE=bogus stops here, before any worker
    engine = make_engine(settings.db_url)
    migrate(engine)  # once, here, so that workers never race to create the schema
    engine.dispose()
    os.environ["SKYROUTE_MIGRATED"] = "1"
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(
        f"SkyRoute decision server on http://{bind_host}:{bind_port} "
        f"(database {settings.db_url.split('://')[0]}, engine "
        f"{settings.engine_active or 'greedy'}; API docs at /docs)"
    )
    processes = workers or settings.workers
    metrics_dir = multiprocess_dir(processes)  # one set of counters over all the workers
    try:
        uvicorn.run(
            "skyroute.serve.app:app_from_env",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=processes,
            timeout_graceful_shutdown=DRAIN_SECONDS,
            log_level="info",
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
