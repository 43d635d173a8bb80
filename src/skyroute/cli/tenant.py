"""`skyroute tenant create NAME`: a tenant and its API key, straight in the server's database.

For the operator on the server's machine (no admin token needed): a server started with no
configuration at all can then be asked for decisions with the printed key.
"""

from __future__ import annotations

import typer

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Tenants of the decision server (docs/serve.md).")


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="A unique tenant name."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Default: the server's database."
    ),
) -> None:
    """Create a tenant and print its API key (shown once; only its hash is stored)."""
    from skyroute.serve.auth import create_tenant
    from skyroute.serve.db import make_engine, migrate, session_factory
    from skyroute.serve.settings import Settings

    settings = Settings.from_env()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings.db_url)
    migrate(engine)
    try:
        with session_factory(engine)() as session:
            tenant_id, key = create_tenant(session, name)
    finally:
        engine.dispose()
    console.print(f"tenant {name} ({tenant_id})")
    console.print(f"API key (shown once): {key}", soft_wrap=True)
