"""`hookhub events list`: the events applications reported, newest received first, from the
database or (`--url`, `--token`) a running server; a table, or `--json` for scripts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from hookhub.cli.common import Database, Token, Url, migrated, remote, with_services
from hookhub.cli.deliveries import Since, console, parse_time
from hookhub.db.history import EventFilter
from hookhub.services import events
from hookhub.services.common import Context

events_app = typer.Typer(help="List events.", no_args_is_help=True)


@events_app.command("list")
def list_events(
    object_type: Annotated[
        str | None, typer.Option("--object-type", help="Only this object type (dcim.device).")
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event (created, ...).")] = None,
    since: Since = None,
    until: Annotated[str | None, typer.Option(help="Received before: as --since.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List events, newest received first; --since and --until are when hookhub received them."""
    where = EventFilter(
        object_type=object_type,
        event=event,
        since=None if since is None else parse_time(since, "--since"),
        until=None if until is None else parse_time(until, "--until"),
    )

    async def fetch(ctx: Context) -> list[dict[str, Any]]:
        found, _ = await events.search(ctx, where, None, limit)
        return found

    server = remote(url, token)
    found = server.events(where, limit) if server else with_services(migrated(database), fetch)
    if as_json:
        for item in found:
            typer.echo(json.dumps(item))
        return
    table = Table()
    for name in ("id", "object type", "event", "user", "received"):
        # Ids stay whole so they can be copied into `deliveries list --event`.
        table.add_column(name, no_wrap=name == "id")
    for item in found:
        table.add_row(
            item["id"],
            item["object_type"],
            item["event"],
            item["username"] or "",
            item["received_at"],
        )
    console.print(table)
