"""`hookhub user create`: accounts for the web UI (docs/ui.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hookhub.cli.common import Database, migrated, with_store
from hookhub.errors import ValidationError

users_app = typer.Typer(help="Manage web UI users.", no_args_is_help=True)


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
    from hookhub.services.users import checked_password, checked_username, create_user

    try:
        name = checked_username(username)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message, param_hint="--username") from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        checked_password(password)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message) from None
    settings = migrated(database)
    with_store(settings, lambda store: create_user(store, name, password))
    typer.echo(f"Created user {name!r}; log in at /login.")
