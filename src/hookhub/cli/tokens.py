"""`hookhub token list` and `hookhub token revoke`: API tokens from the database or (`--url`,
`--token`, an admin token) a running server. Values are never shown again, only prefixes."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from hookhub.cli.common import (
    PAGE,
    Database,
    Json,
    Token,
    Url,
    every_item,
    migrated,
    print_lines,
    remote,
    with_services,
)
from hookhub.cli.deliveries import console
from hookhub.errors import NotFound
from hookhub.services import tokens

if TYPE_CHECKING:
    from hookhub.services.common import Context


def list_tokens(
    as_json: Json = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List API tokens, newest first: name, scope, prefix, created, last used, revoked."""

    async def fetch(ctx: Context) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            batch, cursor = await tokens.listed(ctx, cursor, PAGE)
            found.extend(batch)
            if cursor is None:
                return found

    found = every_item("/tokens", fetch, database, url, token)
    if as_json:
        print_lines(found)
        return
    table = Table()
    columns = ("id", "name", "scope", "tenant", "starts with", "created", "last used", "revoked")
    for name in columns:
        table.add_column(name, no_wrap=name in ("id", "name"))
    for item in found:
        table.add_row(
            item["id"],
            item["name"],
            item["scope"],
            item["tenant_id"] or "",
            item["prefix"] + "…",
            item["created_at"],
            item["last_used_at"] or "never",
            item["revoked_at"] or "",
        )
    console.print(table)


def revoke_token(
    ids: Annotated[list[str], typer.Argument(help="Ids of the tokens to revoke (token list).")],
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Revoke API tokens: requests that present them are refused (401) from now on."""
    problems: list[str] = []

    async def revoke(ctx: Context) -> None:
        for token_id in ids:
            # One unknown id doesn't stop the others; each problem is reported at the end.
            try:
                await tokens.revoke(ctx, token_id)
                typer.echo(f"revoked {token_id}")
            except NotFound as exc:
                problems.append(exc.message)

    server = remote(url, token)
    if server:
        for token_id in ids:
            try:
                server.call("DELETE", f"/tokens/{urllib.parse.quote(token_id, safe='')}")
                typer.echo(f"revoked {token_id}")
            except NotFound as exc:
                problems.append(exc.message)
    else:
        with_services(migrated(database), revoke)
    for problem in problems:
        typer.secho(f"not revoked: {problem}", fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(2)
