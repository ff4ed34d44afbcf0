"""`hookhub user create` and `set-role`: accounts for the web UI and what each may do
(docs/ui.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hookhub.cli.common import Database, migrated, with_services, with_store
from hookhub.errors import ValidationError

users_app = typer.Typer(help="Manage web UI users.", no_args_is_help=True)

Role = Annotated[
    str,
    typer.Option(
        "--role", help="viewer (read only), editor (change objects) or admin (also users, tokens)."
    ),
]


def _checked_role(role: str, hint: str) -> str:
    from hookhub.services.users import checked_role

    try:
        return checked_role(role)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message, param_hint=hint) from None


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option("--username", help="The login name.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    role: Role = "admin",
    database: Database = None,
) -> None:
    """Create a web UI user; the password is prompted for (or read with --password-stdin)."""
    from hookhub.services.users import checked_password, checked_username, create_user

    _checked_role(role, "--role")
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
    with_store(settings, lambda store: create_user(store, name, password, role))
    typer.echo(f"Created user {name!r} ({role}); log in at /login.")


@users_app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="The user's login name.")],
    role: Annotated[str, typer.Argument(help="viewer, editor or admin.")],
    database: Database = None,
) -> None:
    """Change what a web UI user may do; it applies to their next page."""
    from hookhub.services import users

    _checked_role(role, "ROLE")
    settings = migrated(database)
    with_services(settings, lambda ctx: users.set_role(ctx, username, role))
    typer.echo(f"User {username!r} is now {role}.")
