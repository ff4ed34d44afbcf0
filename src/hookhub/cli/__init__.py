"""The `hookhub` command. Thin: each command parses flags and calls one function."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from hookhub.cli import config
from hookhub.cli.common import Database, migrated, report_crashes, with_services
from hookhub.cli.deliveries import deliveries_app, send_test
from hookhub.cli.event_types import event_types_app
from hookhub.cli.events import events_app
from hookhub.cli.resources import runs_app, sources_app, webhooks_app, workflows_app
from hookhub.cli.tenants import tenants_app
from hookhub.cli.tokens import list_tokens, revoke_token
from hookhub.cli.users import users_app
from hookhub.cli.webhooks import disable, enable, patch, rotate_secret
from hookhub.errors import HookhubError

app = typer.Typer(
    name="hookhub",
    help="Self-hosted webhook platform: durable signed deliveries out, workflow triggers in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
token_app.command("list")(list_tokens)
token_app.command("revoke")(revoke_token)
app.add_typer(events_app, name="events")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(webhooks_app, name="webhooks")
webhooks_app.command("enable")(enable)
webhooks_app.command("disable")(disable)
webhooks_app.command("patch")(patch)
webhooks_app.command("rotate-secret")(rotate_secret)
app.add_typer(workflows_app, name="workflows")
app.add_typer(runs_app, name="runs")
app.add_typer(sources_app, name="sources")
app.add_typer(event_types_app, name="event-types")
app.add_typer(tenants_app, name="tenants")
app.add_typer(users_app, name="user")
app.command("send-test")(send_test)
app.command("apply")(config.apply)
app.command("export")(config.export)


@app.callback()
def options(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            envvar="HOOKHUB_CONFIG",
            help="A TOML settings file (docs/settings.md); HOOKHUB_* variables override it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Self-hosted webhook platform: durable signed deliveries out, workflow triggers in."""
    if config:
        # Settings are read from the environment once the command runs (Settings.from_env).
        os.environ["HOOKHUB_CONFIG"] = config


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
    report_crashes()
    from hookhub import server
    from hookhub.app import create_app

    settings = migrated(database, create=True)
    typer.echo(f"hookhub serving on http://{host}:{port} (database {settings.database_url})")
    app = create_app(settings, workers=not no_workers)
    server.run(app, host, port, server.Limits.of(settings))


@app.command()
def worker(database: Database = None) -> None:
    """Run only the delivery workers (claim, send, record), no HTTP."""
    report_crashes()
    from hookhub.worker import run_worker

    settings = migrated(database)
    try:
        import uvloop
    except ImportError:  # optional (no Windows build); asyncio's own loop works too
        asyncio.run(run_worker(settings))
    else:
        # A faster event loop for the delivery hot path, as uvicorn picks for `serve`.
        uvloop.run(run_worker(settings))


@app.command()
def migrate(database: Database = None) -> None:
    """Create or upgrade the database schema to the latest version."""
    settings = migrated(database, create=True)
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
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", help="Hold it to this tenant: it sees that tenant's objects only."
        ),
    ] = None,
    database: Database = None,
) -> None:
    """Create an API token and print it (alone, on the last line); only its hash is stored."""
    from hookhub.services import tokens

    problems = tokens.problems(name, scope)
    if problems:
        field = "scope" if "scope" in problems else "name"
        raise typer.BadParameter(problems[field], param_hint=f"--{field}")
    settings = migrated(database)
    created = with_services(settings, lambda ctx: tokens.create(ctx, name, scope, tenant))
    held = f" of tenant {tenant!r}" if tenant else ""
    typer.echo(f"Created {scope} token {name!r}{held}. It is shown only now:", err=True)
    typer.echo(created.plaintext)


def main() -> None:
    """Entry point: run the CLI, turning hookhub's own errors into a message and an exit code:
    2 for bad input, an unknown id or name, invalid settings; 3 when the server given with
    --url can't be reached or refuses the token (docs/cli.md)."""
    try:
        app()
    except HookhubError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
