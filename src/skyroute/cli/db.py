"""`skyroute db upgrade`: migrate the server's database and exit (a Kubernetes Job's command).

``skyroute serve`` migrates on start too; a separate step lets a rollout migrate once, before
any new pod starts, with the database role that may change the schema.
"""

from __future__ import annotations

import typer

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="The decision server's database schema.", no_args_is_help=True)


@app.command()
@handle_errors
def upgrade(
    database_url: str | None = typer.Option(None, "--database-url", help="Default: the server's."),
) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    from sqlalchemy.exc import DBAPIError

    from skyroute.errors import ConfigError
    from skyroute.serve.db import at_head, make_engine, migrate
    from skyroute.serve.settings import Settings

    settings = Settings.from_env()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings.db_url)
    scheme = settings.db_url.split("://")[0]
    try:
        already = at_head(engine)
        migrate(engine)
    except DBAPIError as exc:
        raise ConfigError(
            f"the database ({scheme}) cannot be migrated: {type(exc.orig).__name__}: "
            f"{str(exc.orig).splitlines()[0] if exc.orig else exc}",
            "check SKYROUTE_DATABASE_URL (host, port, user, password) and that the database "
            "is up and this role may create tables",
        ) from exc
    finally:
        engine.dispose()
    console.print(
        f"database ({scheme}) {'already at' if already else 'upgraded to'} the newest schema"
    )
