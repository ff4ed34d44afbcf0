"""The `hookhub` command. Thin: each command parses flags and calls one function."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated

import typer

from hookhub.errors import HookhubError
from hookhub.settings import Settings

app = typer.Typer(
    name="hookhub",
    help="Self-hosted webhook platform: durable signed deliveries out, workflow triggers in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="HOOKHUB_DATABASE_URL",
        help="Database URL: sqlite:///path (default sqlite:///./hookhub.db) or postgresql://...",
        show_default=False,
    ),
]


def _settings(database: str | None) -> Settings:
    logging.basicConfig(
        level=os.environ.get("HOOKHUB_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every start at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return Settings.from_env().with_database(database)


def _migrated(database: str | None) -> Settings:
    from hookhub.migrations import upgrade

    settings = _settings(database)
    upgrade(settings.database_url)
    return settings


@app.command()
def serve(
    database: Database = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Serve HTTP only; run `hookhub worker` elsewhere.")
    ] = False,
) -> None:
    """Run the API, triggers and (unless --no-workers) the delivery workers in one process."""
    import uvicorn

    from hookhub.api.app import create_app

    settings = _migrated(database)
    typer.echo(f"hookhub serving on http://{host}:{port} (database {settings.database_url})")
    uvicorn.run(
        create_app(settings, workers=not no_workers),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker(database: Database = None) -> None:
    """Run only the delivery workers (claim, send, record), no HTTP."""
    from hookhub.worker import run_worker

    asyncio.run(run_worker(_migrated(database)))


@app.command()
def migrate(database: Database = None) -> None:
    """Create or upgrade the database schema to the latest version."""
    settings = _migrated(database)
    typer.echo(f"database is up to date: {settings.database_url}")


@app.command()
def receiver(
    port: Annotated[int, typer.Option(help="Port to listen on (localhost).")] = 9000,
    secret: Annotated[
        str | None, typer.Option(help="Verify X-Hook-Signature and webhook-signature with it.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """A debug receiver: answer 200 and print every request, like NetBox's webhook_receiver."""
    from hookhub.receiver import serve as serve_receiver

    serve_receiver(host, port, secret)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    scope: Annotated[str, typer.Option(help="read, write or admin.")] = "admin",
    database: Database = None,
) -> None:
    """Create an API token and print it (alone, on the last line); only its hash is stored."""
    from hookhub.db.store import SCOPES, Store

    if scope not in SCOPES:
        raise typer.BadParameter(f"must be one of {', '.join(SCOPES)}", param_hint="--scope")
    settings = _migrated(database)

    async def create() -> str:
        store = Store.open(settings.database_url)
        try:
            _, plaintext = await store.create_token(name, scope)
        finally:
            await store.close()
        return plaintext

    plaintext = asyncio.run(create())
    typer.echo(f"Created {scope} token {name!r}. It is shown only now:", err=True)
    typer.echo(plaintext)


def main() -> None:
    """Entry point: run the CLI, turning hookhub's own errors into a message and exit code 2."""
    try:
        app()
    except HookhubError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
