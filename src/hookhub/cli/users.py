"""`hookhub user create`: accounts for the web UI (docs/ui.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hookhub.cli.common import Database, migrated, with_store
from hookhub.errors import Conflict

users_app = typer.Typer(help="Manage web UI users.", no_args_is_help=True)

MIN_PASSWORD = 8  # characters


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option("--username", help="The login name.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    database: Database = None,
) -> None:
    """Create a web UI user; the password is prompted for (or read with --password-stdin)."""
    from hookhub.ui.data import create_user

    name = username.strip()
    if not name or len(name) > 200:
        raise typer.BadParameter("give a name of 1 to 200 characters", param_hint="--username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise typer.BadParameter(f"the password needs at least {MIN_PASSWORD} characters")
    settings = migrated(database)
    try:
        with_store(settings, lambda store: create_user(store, name, password))
    except Conflict:
        raise Conflict(f"a user named {name!r} already exists") from None
    typer.echo(f"Created user {name!r}; log in at /login.")
